#!/usr/bin/env python3
"""End-to-end tests of `fasten-mcp serve --http`: the real binary over real sockets.

Covers the HTTP rules of docs/http.md that the npm clients do not exercise: status codes of the
dual-era dispatch table, Host/Origin, bearer tokens and tenant binding, limits (body, headers,
slow clients, rate, call time), SSE progress, TLS, readiness, and a graceful SIGTERM drain.

Environment: FASTEN_MCP (binary).
"""
import base64
import collections
import http.client
import json
import os
import re
import selectors
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BIN = os.environ.get("FASTEN_MCP", "build/fasten-mcp")
MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {}}
ACCEPT = "application/json, text/event-stream"


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


class Server:
    """A `fasten-mcp serve --http 127.0.0.1:0 ...` process; the port is read from its log."""

    def __init__(self, *args, tls=False):
        self.proc = subprocess.Popen([BIN, "serve", "--http", "127.0.0.1:0", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = []
        self.port = None
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r"serving MCP on https?://127\.0\.0\.1:(\d+)/mcp", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        self.thread = threading.Thread(target=pump, daemon=True)
        self.thread.start()
        ready.wait(30)
        if self.port is None:
            self.proc.kill()
            raise AssertionError("server did not start: " + "".join(self.log))
        self.tls = tls

    def conn(self, timeout=30, context=None):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(5)
        self.proc.stderr.close()
        if self.proc.returncode != 0:  # show why (a sanitizer report, a crash) in the test log
            sys.stderr.write("server exit status %r; its log:\n%s\n"
                             % (self.proc.returncode, "".join(self.log)[-20000:]))
        return self.proc.returncode


def post(server, body, token=None, headers=None, path="/mcp", raw=False):
    c = server.conn()
    h = {"Content-Type": "application/json", "Accept": ACCEPT}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    c.request("POST", path, body=body if raw else json.dumps(body), headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def modern_headers(method, name=None):
    h = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name is not None:
        h["Mcp-Name"] = name
    return h


PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'


def replace(fields, name, value):
    """`fields` with every `name` line dropped and, unless value is None, one put back first."""
    out = [f for f in fields if f[0].lower() != name.lower()]
    return out if value is None else [(name, value)] + out


def read_response(s):
    """(status, body) of the one response read from socket `s` (None, b"" when it closed first)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    want = int(m.group(1)) if m else 0
    while len(body) < want:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, body


def raw_exchange(port, request_line, fields, body=b"", address="127.0.0.1", timeout=10):
    """Sends a request byte for byte as given (duplicates, odd framing); returns (status, body)
    of the answer, or (None, b"") when the server closed the connection without one."""
    s = socket.create_connection((address, port), timeout=timeout)
    try:
        head = request_line + "\r\n" + "".join("%s: %s\r\n" % f for f in fields) + "\r\n"
        s.sendall(head.encode("latin-1") + body)
        return read_response(s)
    finally:
        s.close()


class Flood(threading.Thread):
    """Holds `count` idle TCP connections from `address` (any of 127.0.0.0/8 is loopback on
    Linux) to the server, sending nothing and reopening each one the server closes, until
    stop(). `statuses` counts the statuses of the answers the server sent before closing."""

    def __init__(self, port, address, count):
        super().__init__(daemon=True)
        self.port, self.address, self.count = port, address, count
        self.statuses = collections.Counter()
        self.opened = 0
        self.halt = threading.Event()
        self.sel = selectors.DefaultSelector()

    def open_one(self):
        s = socket.socket()
        s.setblocking(False)
        s.bind((self.address, 0))
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        self.sel.register(s, selectors.EVENT_READ, [b""])
        self.opened += 1

    def run(self):
        for _ in range(self.count):
            self.open_one()
        while not self.halt.is_set():
            closed = 0
            for key, _ in self.sel.select(timeout=0.1):
                s, buf = key.fileobj, key.data
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if data:
                    buf[0] += data
                    continue
                m = re.match(rb"HTTP/1\.1 (\d+) ", buf[0])
                self.statuses[int(m.group(1)) if m else None] += 1
                self.sel.unregister(s)
                s.close()
                closed += 1
            for _ in range(closed):
                self.open_one()
            # At most ~500 reopenings a second: the flood is idle sockets, not a CPU race (the
            # test also runs beside others, and under ASan).
            time.sleep(closed / 500)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()

    def stop(self):
        self.halt.set()
        self.join(30)


def call(tool, args, id=1, meta=None):
    params = {"name": tool, "arguments": args}
    if meta is not None:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}


class Http(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-http-")
        cls.demo = os.path.join(cls.tmp.name, "demo.db")
        rc, out, err = run("demo", "--out", cls.demo)
        assert rc == 0, err
        cls.tokens = os.path.join(cls.tmp.name, "tokens")
        rc, out, err = run("token", "add", "--tenant", "acme", "--tokens", cls.tokens)
        assert rc == 0, err
        cls.acme = out.strip()
        rc, out, err = run("token", "add", "--tenant", "globex", "--tokens", cls.tokens)
        assert rc == 0, err
        cls.globex = out.strip()
        cls.server = Server("--store", "sqlite:///" + cls.demo, "--tokens", cls.tokens,
                            "--read-timeout", "2", "--max-body", "65536")

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        cls.tmp.cleanup()
        assert rc == 0, "server exit status %r" % rc

    # --- probes ---------------------------------------------------------------------------
    def test_healthz_needs_no_auth_and_readyz_checks_the_store(self):
        c = self.server.conn()
        c.request("GET", "/healthz")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        # Clients learn how long an idle connection stays open (--idle-connection-timeout).
        self.assertEqual(r.getheader("Keep-Alive"), "timeout=5")
        self.assertEqual(json.loads(r.read())["status"], "ok")
        c.request("GET", "/readyz")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.read())["status"], "ready")

    # --- authentication and tenancy -------------------------------------------------------
    def test_missing_and_wrong_tokens_get_401_with_a_challenge(self):
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "t", "version": "0"}}}
        for token in (None, "fmcp_not-a-real-token", self.acme + "x"):
            status, headers, body = post(self.server, init, token=token)
            self.assertEqual(status, 401, token)
            self.assertEqual(headers.get("www-authenticate"), 'Bearer realm="fasten-mcp"')
            self.assertIn("error", json.loads(body))
            self.assertNotIn("resource_metadata", headers.get("www-authenticate"))
        # Lower-case scheme works; a token in the query string does not.
        status, _, _ = post(self.server, init, headers={"Authorization": "bearer " + self.acme})
        self.assertEqual(status, 200)
        status, _, _ = post(self.server, init, path="/mcp?access_token=" + self.acme)
        self.assertEqual(status, 401)
        self.assertFalse(any(self.acme in l for l in self.server.log), "token logged")

    def rows(self, token, args):
        status, _, body = post(self.server, call("audit_query", args),
                               token=token, headers={"MCP-Protocol-Version": "2025-11-25"})
        self.assertEqual(status, 200)
        result = json.loads(body)["result"]
        self.assertFalse(result.get("isError"), result)
        return result["structuredContent"]["rows"]

    def test_each_token_sees_only_its_tenant(self):
        acme = self.rows(self.acme, {"limit": 200})
        globex = self.rows(self.globex, {"limit": 200})
        self.assertTrue(acme and globex)
        self.assertEqual({r["tenant_id"] for r in acme}, {"acme"})
        self.assertEqual({r["tenant_id"] for r in globex}, {"globex"})
        # The request_id both tenants share: each sees its own rows only.
        shared_a = self.rows(self.acme, {"request_id": "sched-5e1f0a7c"})
        shared_g = self.rows(self.globex, {"request_id": "sched-5e1f0a7c"})
        self.assertTrue(shared_a and shared_g)
        self.assertFalse({r["hash"] for r in shared_a} & {r["hash"] for r in shared_g})
        # A tenant argument is refused by the schema.
        status, _, body = post(self.server, call("audit_query", {"tenant_id": "globex"}),
                               token=self.acme, headers={"MCP-Protocol-Version": "2025-11-25"})
        self.assertEqual(status, 200)
        self.assertTrue(json.loads(body)["result"]["isError"])

    # --- Host / Origin --------------------------------------------------------------------
    def test_bad_host_or_origin_gets_403_before_auth(self):
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        status, _, body = post(self.server, ping, headers={"Host": "evil.example.com"})
        self.assertEqual(status, 403)
        self.assertIn("Host", json.loads(body)["error"]["message"])
        status, _, _ = post(self.server, ping, token=self.acme,
                            headers={"Origin": "http://evil.example.com"})
        self.assertEqual(status, 403)
        status, _, _ = post(self.server, ping, token=self.acme,
                            headers={"Origin": "http://localhost:%d" % self.server.port,
                                     "Host": "localhost:%d" % self.server.port})
        self.assertEqual(status, 200)

    # --- methods, media types, limits ------------------------------------------------------
    def test_get_and_delete_get_405(self):
        for method in ("GET", "DELETE"):
            c = self.server.conn()
            c.request(method, "/mcp", headers={"Authorization": "Bearer " + self.acme,
                                               "Accept": ACCEPT})
            r = c.getresponse()
            self.assertEqual(r.status, 405, method)
            self.assertEqual(r.getheader("Allow"), "POST")
            json.loads(r.read())

    def test_media_types(self):
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        status, _, _ = post(self.server, ping, token=self.acme,
                            headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 415)
        status, _, _ = post(self.server, ping, token=self.acme, headers={"Accept": "text/html"})
        self.assertEqual(status, 406)

    def test_strict_http_framing_and_headers(self):
        # issue 12 item 6: each case was answered 200 (the first duplicate judged, a junk port
        # ignored, a media type matched by prefix, an unknown transfer coding ignored).
        port = self.server.port
        base = [("Host", "127.0.0.1:%d" % port), ("Authorization", "Bearer " + self.acme),
                ("Content-Type", "application/json"), ("Accept", ACCEPT),
                ("Content-Length", str(len(PING))), ("Connection", "close")]

        def chunked(body):
            return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)

        te = [f for f in base if f[0] != "Content-Length"]
        cases = [
            ("baseline", base, PING, 200),
            ("duplicate Host", base + [("Host", "127.0.0.1:%d" % port)], PING, 400),
            ("duplicate Host, second foreign", base + [("Host", "evil.example.com")], PING, 400),
            ("missing Host", replace(base, "Host", None), PING, 400),
            ("Host with a junk port", replace(base, "Host", "127.0.0.1:80junk"), PING, 400),
            ("Host with port 70000", replace(base, "Host", "127.0.0.1:70000"), PING, 400),
            ("Host with port 0", replace(base, "Host", "127.0.0.1:0"), PING, 400),
            ("Host with an empty port", replace(base, "Host", "localhost:"), PING, 400),
            ("Host with a signed port", replace(base, "Host", "localhost:+80"), PING, 400),
            ("Host with junk", replace(base, "Host", "evil@127.0.0.1"), PING, 400),
            ("IPv6 Host with a junk port", replace(base, "Host", "[::1]:8x"), PING, 400),
            ("IPv6 Host, unclosed", replace(base, "Host", "[::1"), PING, 400),
            ("IPv6 Host", replace(base, "Host", "[::1]:%d" % port), PING, 200),
            ("Host without a port", replace(base, "Host", "localhost"), PING, 200),
            ("duplicate Origin", base + [("Origin", "http://localhost")] * 2, PING, 400),
            ("duplicate Authorization", base + [("Authorization", "Bearer " + self.acme)],
             PING, 400),
            ("duplicate Authorization, second junk", base + [("Authorization", "Bearer x")],
             PING, 400),
            ("Content-Type application/jsonx",
             replace(base, "Content-Type", "application/jsonx"), PING, 415),
            ("Content-Type application/json-seq",
             replace(base, "Content-Type", "application/json-seq"), PING, 415),
            ("Content-Type with a charset",
             replace(base, "Content-Type", "application/json; charset=utf-8"), PING, 200),
            ("Content-Type in upper case", replace(base, "Content-Type", "Application/JSON"),
             PING, 200),
            ("Content-Type with another charset",
             replace(base, "Content-Type", "application/json; charset=latin1"), PING, 415),
            ("Accept application/jsonx only", replace(base, "Accept", "application/jsonx"),
             PING, 406),
            ("duplicate Content-Length, same value",
             base + [("Content-Length", str(len(PING)))], PING, 400),
            ("duplicate Content-Length, other value", base + [("Content-Length", "1")], PING,
             400),
            # Beast itself refuses Content-Length before Transfer-Encoding; these come after.
            ("Transfer-Encoding xchunked with Content-Length",
             te + [("Transfer-Encoding", "xchunked"), ("Content-Length", str(len(PING)))], PING,
             400),
            ("Transfer-Encoding identity with Content-Length",
             te + [("Transfer-Encoding", "identity"), ("Content-Length", str(len(PING)))], PING,
             400),
            ("chunked, then Content-Length (Beast refuses it)",
             te + [("Transfer-Encoding", "chunked"), ("Content-Length", str(len(PING)))],
             chunked(PING), 400),
            ("Transfer-Encoding xchunked", te + [("Transfer-Encoding", "xchunked")],
             chunked(PING), 400),
            ("Transfer-Encoding identity", te + [("Transfer-Encoding", "identity")], PING, 400),
            ("Transfer-Encoding gzip, chunked", te + [("Transfer-Encoding", "gzip, chunked")],
             chunked(PING), 501),
            ("duplicate Transfer-Encoding", te + [("Transfer-Encoding", "chunked")] * 2,
             chunked(PING), 400),
            ("Transfer-Encoding chunked", te + [("Transfer-Encoding", "chunked")],
             chunked(PING), 200),
            ("Transfer-Encoding Chunked", te + [("Transfer-Encoding", "Chunked")],
             chunked(PING), 200),
        ]
        for name, fields, body, want in cases:
            with self.subTest(name):
                status, data = raw_exchange(port, "POST /mcp HTTP/1.1", fields, body)
                self.assertEqual(status, want, "%s: %r" % (name, data[:300]))
                if want >= 400:
                    message = json.loads(data)["error"]["message"]  # always a JSON body
                    if "Transfer-Encoding" in name:
                        self.assertIn("Transfer-Encoding", message)
        # Transfer-Encoding in an HTTP/1.0 request: 400.
        status, _ = raw_exchange(port, "POST /mcp HTTP/1.0", te + [("Transfer-Encoding",
                                                                      "chunked")], chunked(PING))
        self.assertEqual(status, 400)
        # The server keeps serving.
        self.assertEqual(post(self.server, json.loads(PING), token=self.acme)[0], 200)

    def test_oversize_body_gets_413(self):
        big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping",
                          "params": {"pad": "x" * 100000}})
        status, _, body = post(self.server, big, token=self.acme, raw=True)
        self.assertEqual(status, 413)
        self.assertIn("65536", json.loads(body)["error"]["message"])

    def test_oversize_headers_get_431(self):
        status, _, _ = post(self.server, {"jsonrpc": "2.0", "id": 1, "method": "ping"},
                            token=self.acme, headers={"X-Pad": "p" * 40000})
        self.assertEqual(status, 431)

    def test_slow_client_is_timed_out(self):
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        s.settimeout(10)
        t0 = time.monotonic()
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        elapsed = time.monotonic() - t0
        s.close()
        # The read timeout (2 s here) closes the connection; nothing is answered.
        self.assertEqual(data, b"")
        self.assertGreater(elapsed, 1)
        self.assertLess(elapsed, 8)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any("client too slow" in l
                                                      for l in self.server.log):
            time.sleep(0.05)
        self.assertTrue(any("client too slow" in l for l in self.server.log))

    def test_malformed_json_gets_a_json_400_and_batches_are_refused(self):
        status, headers, body = post(self.server, "{bad json", token=self.acme, raw=True)
        self.assertEqual(status, 400)
        self.assertEqual(headers["content-type"], "application/json")
        err = json.loads(body)
        self.assertEqual(err["error"]["code"], -32700)
        self.assertIn("id", err)  # JSON-RPC 2.0 §5: null when the id could not be read
        self.assertIsNone(err["id"])
        status, _, body = post(self.server, [{"jsonrpc": "2.0", "id": 1, "method": "ping"}],
                               token=self.acme)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["error"]["code"], -32600)

    def test_notifications_get_202_with_an_empty_body(self):
        status, _, body = post(self.server, {"jsonrpc": "2.0",
                                             "method": "notifications/initialized"},
                               token=self.acme)
        self.assertEqual(status, 202)
        self.assertEqual(body, b"")

    # --- legacy era -------------------------------------------------------------------------
    def test_legacy_initialize_mints_no_session_and_versions_are_checked(self):
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "t", "version": "0"}}}
        status, headers, body = post(self.server, init, token=self.acme)
        self.assertEqual(status, 200)
        self.assertNotIn("mcp-session-id", headers)
        self.assertEqual(json.loads(body)["result"]["protocolVersion"], "2025-06-18")
        lst = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        status, _, body = post(self.server, lst, token=self.acme,
                               headers={"MCP-Protocol-Version": "1999-01-01"})
        self.assertEqual(status, 400)
        # Absent header: 2025-03-26, which has no outputSchema.
        status, _, body = post(self.server, lst, token=self.acme)
        self.assertEqual(status, 200)
        self.assertNotIn("outputSchema", json.loads(body)["result"]["tools"][0])
        status, _, body = post(self.server, lst, token=self.acme,
                               headers={"MCP-Protocol-Version": "2025-11-25"})
        self.assertIn("outputSchema", json.loads(body)["result"]["tools"][0])

    # --- modern era -------------------------------------------------------------------------
    def test_modern_discover_and_header_validation(self):
        disc = {"jsonrpc": "2.0", "id": "d", "method": "server/discover", "params": {"_meta": META}}
        status, _, body = post(self.server, disc, token=self.acme,
                               headers=modern_headers("server/discover"))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["result"]["supportedVersions"], [MODERN])
        # Missing Mcp-Method, a mismatched one, a missing version header.
        for h in ({"MCP-Protocol-Version": MODERN}, modern_headers("tools/list"),
                  {"Mcp-Method": "server/discover"}):
            status, _, body = post(self.server, disc, token=self.acme, headers=h)
            self.assertEqual(status, 400, h)
            err = json.loads(body)
            self.assertEqual(err["error"]["code"], -32020, h)
            self.assertEqual(err["id"], "d")
        # Values are trimmed; names are case-insensitive.
        status, _, _ = post(self.server, disc, token=self.acme,
                            headers={"mcp-protocol-version": " " + MODERN + " ",
                                     "MCP-METHOD": "server/discover"})
        self.assertEqual(status, 200)

    def test_modern_tools_call_with_mcp_name(self):
        req = call("topology", {}, id=7, meta=META)
        status, _, body = post(self.server, req, token=self.acme,
                               headers=modern_headers("tools/call", "topology"))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["result"]["resultType"], "complete")
        b64 = "=?base64?" + base64.b64encode(b"topology").decode() + "?="
        status, _, _ = post(self.server, req, token=self.acme,
                            headers=modern_headers("tools/call", b64))
        self.assertEqual(status, 200)
        status, _, body = post(self.server, req, token=self.acme,
                               headers=modern_headers("tools/call", "row_get"))
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["error"]["code"], -32020)
        status, _, body = post(self.server, req, token=self.acme,
                               headers=modern_headers("tools/call"))
        self.assertEqual(status, 400)
        # Unknown tool: a JSON-RPC error with status 200.
        status, _, body = post(self.server, call("nope", {}, meta=META), token=self.acme,
                               headers=modern_headers("tools/call", "nope"))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["error"]["code"], -32602)

    def test_modern_status_mapping(self):
        cases = [
            ({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"_meta": META}}, "ping",
             404, -32601),
            ({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"_meta": META}},
             "initialize", 404, -32601),
            ({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
              "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2099-01-01",
                                   "io.modelcontextprotocol/clientCapabilities": {}}}},
             "tools/list", 400, -32020),  # header 2026-07-28, body 2099-01-01: a mismatch
            ({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
              "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}},
             "tools/list", 400, -32602),
        ]
        # Header and body agree on an unsupported version: -32022.
        status, _, body = post(self.server, cases[2][0], token=self.acme,
                               headers={"MCP-Protocol-Version": "2099-01-01",
                                        "Mcp-Method": "tools/list"})
        err = json.loads(body)["error"]
        self.assertEqual((status, err["code"]), (400, -32022))
        self.assertEqual(err["data"]["supported"], [MODERN])
        for req, method, want_status, want_code in cases:
            status, _, body = post(self.server, req, token=self.acme,
                                   headers=modern_headers(method))
            self.assertEqual((status, json.loads(body)["error"]["code"]),
                             (want_status, want_code), method)

    # --- SSE progress -----------------------------------------------------------------------
    def test_progress_streams_as_sse_ending_with_the_response(self):
        req = call("chain_verify", {}, id="v1", meta={"progressToken": "p1"})
        c = self.server.conn()
        c.request("POST", "/mcp", body=json.dumps(req),
                  headers={"Content-Type": "application/json", "Accept": ACCEPT,
                           "Authorization": "Bearer " + self.acme,
                           "MCP-Protocol-Version": "2025-11-25"})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(r.getheader("X-Accel-Buffering"), "no")
        text = r.read().decode()
        events = [json.loads(l[len("data: "):]) for l in text.splitlines()
                  if l.startswith("data: ") and l != "data: "]
        self.assertTrue(text.startswith("id: 0\ndata: \n"), text[:40])  # legacy priming event
        self.assertEqual(events[-1]["id"], "v1")
        self.assertIn("result", events[-1])
        for e in events[:-1]:
            self.assertEqual(e["method"], "notifications/progress")
            self.assertEqual(e["params"]["progressToken"], "p1")
        # The connection stays usable after a chunked SSE response.
        c.request("GET", "/healthz")
        self.assertEqual(c.getresponse().status, 200)


class HttpStartup(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-http-")
        cls.demo = os.path.join(cls.tmp.name, "demo.db")
        rc, out, err = run("demo", "--out", cls.demo)
        assert rc == 0, err
        cls.tokens = os.path.join(cls.tmp.name, "tokens")
        cls.acme = run("token", "add", "--tenant", "acme", "--tokens", cls.tokens)[1].strip()
        cls.globex = run("token", "add", "--tenant", "globex", "--tokens", cls.tokens)[1].strip()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_non_loopback_bind_without_auth_is_refused(self):
        for addr in ("0.0.0.0:0", "[::]:0"):
            rc, out, err = run("serve", "--http", addr, "--store", "sqlite:///" + self.demo,
                               "--tenant", "acme")
            self.assertEqual(rc, 2, addr)
            self.assertIn("without authentication", err)
        rc, _, err = run("serve", "--http", "127.0.0.1:0", "--store", "sqlite:///" + self.demo,
                         "--tokens", self.tokens, "--tenant", "acme")
        self.assertEqual(rc, 2)
        self.assertIn("drop --tenant", err)
        rc, _, err = run("serve", "--http", "nonsense", "--store", "sqlite:///" + self.demo)
        self.assertEqual(rc, 2)
        self.assertIn("ADDR:PORT", err)

    def test_config_snippets_for_an_http_server_keep_the_token_out(self):
        url = "http://127.0.0.1:8765/mcp"
        rc, out, _ = run("config", "cursor", "--url", url)
        self.assertEqual(rc, 0)
        entry = json.loads(out)["mcpServers"]["fasten"]
        self.assertEqual(entry["url"], url)
        self.assertEqual(entry["headers"]["Authorization"], "Bearer ${env:FASTEN_TOKEN}")
        rc, out, _ = run("config", "vscode", "--url", url)
        self.assertEqual(json.loads(out)["servers"]["fasten"]["type"], "http")
        rc, out, _ = run("config", "claude-desktop", "--url", url)
        args = json.loads(out)["mcpServers"]["fasten"]["args"]
        self.assertIn("mcp-remote", args)
        self.assertFalse(any(" " in a for a in args))  # hosts mangle spaces in args
        rc, out, _ = run("config", "claude-code", "--url", url)
        self.assertIn("--transport http", out)
        rc, _, err = run("config", "cursor", "--url", "ftp://x")
        self.assertEqual(rc, 2)
        rc, _, err = run("config", "cursor", "--url", url, "--tenant", "acme")
        self.assertEqual(rc, 2)
        self.assertIn("drop --store/--tenant", err)

    def test_subscriptions_listen_acknowledges_then_ends_cleanly_on_shutdown(self):
        s = Server("--store", "sqlite:///" + self.demo, "--tokens", self.tokens)
        listen = {"jsonrpc": "2.0", "id": "L1", "method": "subscriptions/listen",
                  "params": {"notifications": {"toolsListChanged": True,
                                               "resourceSubscriptions": ["x://y"]},
                             "_meta": META}}
        c = s.conn()
        c.request("POST", "/mcp", body=json.dumps(listen),
                  headers={"Content-Type": "application/json", "Accept": ACCEPT,
                           "Authorization": "Bearer " + self.acme,
                           **modern_headers("subscriptions/listen")})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "text/event-stream")
        frames = []
        buf = ""
        while not frames:
            buf += r.read1(65536).decode()
            frames = [json.loads(l[6:]) for l in buf.splitlines() if l.startswith("data: {")]
        ack = frames[0]
        self.assertEqual(ack["method"], "notifications/subscriptions/acknowledged")
        self.assertEqual(ack["params"]["notifications"], {})  # nothing is honoured
        self.assertEqual(ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], "L1")
        # A listen without the modern envelope is not a method of the legacy era.
        status, _, body = post(s, {"jsonrpc": "2.0", "id": 2, "method": "subscriptions/listen",
                                   "params": {}}, token=self.acme)
        self.assertEqual(json.loads(body)["error"]["code"], -32601)
        # Shutdown ends the open listen: notifications/cancelled, then its final result.
        s.proc.send_signal(signal.SIGTERM)
        rest = buf + r.read().decode()
        frames = [json.loads(l[6:]) for l in rest.splitlines() if l.startswith("data: {")]
        self.assertEqual(frames[-2]["method"], "notifications/cancelled")
        self.assertEqual(frames[-2]["params"]["requestId"], "L1")
        self.assertEqual(frames[-1]["id"], "L1")
        self.assertEqual(frames[-1]["result"]["resultType"], "complete")
        self.assertEqual(s.proc.wait(30), 0)
        s.thread.join(5)
        s.proc.stderr.close()

    def test_a_listen_the_client_closed_does_not_hold_up_shutdown(self):
        s = Server("--store", "sqlite:///" + self.demo, "--tokens", self.tokens)
        listen = {"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen",
                  "params": {"notifications": {}, "_meta": META}}
        c = s.conn()
        c.request("POST", "/mcp", body=json.dumps(listen),
                  headers={"Content-Type": "application/json", "Accept": ACCEPT,
                           "Authorization": "Bearer " + self.acme,
                           **modern_headers("subscriptions/listen")})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        r.read1(65536)
        r.close()
        c.close()
        time.sleep(0.3)
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        self.assertEqual(s.proc.wait(30), 0)
        self.assertLess(time.monotonic() - t0, 3.0)  # was 15 s: the keep-alive timer held it
        s.thread.join(5)
        s.proc.stderr.close()

    def test_subscriptions_listen_on_stdio(self):
        listen = {"jsonrpc": "2.0", "id": 9, "method": "subscriptions/listen",
                  "params": {"notifications": {}, "_meta": META}}
        p = subprocess.run([BIN, "serve", "--store", "sqlite:///" + self.demo, "--tenant", "acme"],
                           input=json.dumps(listen) + "\n", capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([l.get("method") for l in lines],
                         ["notifications/subscriptions/acknowledged", "notifications/cancelled",
                          None])
        self.assertEqual(lines[2]["id"], 9)
        # Cancelled by the client: no response at all.
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled",
                  "params": {"requestId": 9}}
        p = subprocess.run([BIN, "serve", "--store", "sqlite:///" + self.demo, "--tenant", "acme"],
                           input=json.dumps(listen) + "\n" + json.dumps(cancel) + "\n",
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(len(p.stdout.splitlines()), 1)

    def test_loopback_without_auth_serves_the_bound_tenant(self):
        s = Server("--store", "sqlite:///" + self.demo, "--tenant", "globex")
        try:
            status, _, body = post(s, call("audit_query", {"limit": 50}),
                                   headers={"MCP-Protocol-Version": "2025-11-25"})
            self.assertEqual(status, 200)
            rows = json.loads(body)["result"]["structuredContent"]["rows"]
            self.assertEqual({r["tenant_id"] for r in rows}, {"globex"})
        finally:
            self.assertEqual(s.stop(), 0)

    def test_rate_limit_is_per_tenant_with_retry_after(self):
        s = Server("--store", "sqlite:///" + self.demo, "--tokens", self.tokens,
                   "--rate-limit", "1", "--rate-burst", "3")
        try:
            ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            statuses = [post(s, ping, token=self.acme)[0] for _ in range(3)]
            self.assertEqual(statuses, [200, 200, 200])
            status, headers, body = post(s, ping, token=self.acme)
            self.assertEqual(status, 429)
            self.assertGreaterEqual(int(headers["retry-after"]), 1)
            json.loads(body)
            self.assertEqual(post(s, ping, token=self.globex)[0], 200)  # another tenant
            time.sleep(1.1)
            self.assertEqual(post(s, ping, token=self.acme)[0], 200)  # refilled
        finally:
            self.assertEqual(s.stop(), 0)

    def test_tls(self):
        cert = os.path.join(self.tmp.name, "cert.pem")
        key = os.path.join(self.tmp.name, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)
        s = Server("--store", "sqlite:///" + self.demo, "--tokens", self.tokens,
                   "--tls-cert", cert, "--tls-key", key, tls=True)
        try:
            ctx = ssl.create_default_context(cafile=cert)
            c = s.conn(context=ctx)
            c.request("GET", "/healthz")
            self.assertEqual(c.getresponse().status, 200)
            # Plain HTTP to the TLS port gets nothing usable.
            plain = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
            with self.assertRaises(Exception):
                plain.request("GET", "/healthz")
                plain.getresponse()
        finally:
            self.assertEqual(s.stop(), 0)
        rc, _, err = run("serve", "--http", "127.0.0.1:0", "--store", "sqlite:///" + self.demo,
                         "--tokens", self.tokens, "--tls-cert", cert)
        self.assertEqual(rc, 2)
        self.assertIn("--tls-key", err)


class HttpConnections(unittest.TestCase):
    """issue 12 item 5: idle connections from one peer must not starve everyone else."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-http-")
        cls.demo = os.path.join(cls.tmp.name, "demo.db")
        rc, out, err = run("demo", "--out", cls.demo)
        assert rc == 0, err
        cls.tokens = os.path.join(cls.tmp.name, "tokens")
        cls.acme = run("token", "add", "--tenant", "acme", "--tokens", cls.tokens)[1].strip()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def get(self, server, path, timeout=5):
        try:
            c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
            c.request("GET", path)
            status = c.getresponse().status
            c.close()
            return status
        except OSError as e:
            return repr(e)

    def ping(self, server, timeout=5):
        try:
            c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
            c.request("POST", "/mcp", body=PING,
                      headers={"Content-Type": "application/json", "Accept": ACCEPT,
                               "Authorization": "Bearer " + self.acme})
            status = c.getresponse().status
            c.close()
            return status
        except OSError as e:
            return repr(e)

    def test_idle_flood_from_one_peer_leaves_other_clients_served(self):
        # Default limits. 560 idle connections from 127.0.0.2, each reopened when closed: on the
        # old server they held all 512 slots and 0 of 30 calls from 127.0.0.1 got through.
        s = Server("--store", "sqlite:///" + self.demo, "--tokens", self.tokens)
        flood = Flood(s.port, "127.0.0.2", 560)
        try:
            flood.start()
            time.sleep(1.5)  # the flood has connected
            t0 = time.monotonic()
            statuses = []
            for _ in range(30):
                statuses.append(self.ping(s))
                time.sleep(0.3)
            elapsed = time.monotonic() - t0
            healthz = self.get(s, "/healthz")
            flood.stop()
            ok = statuses.count(200)
            sys.stderr.write("connection flood: %d of 30 calls served in %.1f s; the flood "
                             "opened %d connections, answers %s\n"
                             % (ok, elapsed, flood.opened, dict(flood.statuses)))
            self.assertGreaterEqual(ok, 28, statuses)
            self.assertLess(elapsed, 30)
            self.assertEqual(healthz, 200)
            # Over the per-peer cap the flood was told so (429) before being closed.
            self.assertGreater(flood.statuses[429], 0, flood.statuses)
        finally:
            flood.stop()
            self.assertEqual(s.stop(), 0)

    def test_over_the_limits_connections_get_an_answer_then_close(self):
        s = Server("--store", "sqlite:///" + self.demo, "--tokens", self.tokens,
                   "--max-connections", "8", "--max-connections-per-peer", "3")
        held = []
        try:
            def hold(address):
                sock = socket.socket()
                sock.bind((address, 0))
                sock.settimeout(10)
                sock.connect(("127.0.0.1", s.port))
                held.append(sock)
                return sock

            for _ in range(3):
                hold("127.0.0.2")
            time.sleep(0.3)
            # A fourth from the same peer: 429, Retry-After, Connection: close, then closed.
            extra = hold("127.0.0.2")
            status, body = read_response(extra)
            self.assertEqual(status, 429)
            self.assertIn("127.0.0.2", json.loads(body)["error"]["message"])
            self.assertEqual(extra.recv(1), b"")
            for address in ("127.0.0.3", "127.0.0.3", "127.0.0.3", "127.0.0.4", "127.0.0.4"):
                hold(address)
            time.sleep(0.3)
            # Eight held: a ninth, from a fresh peer, gets 503.
            ninth = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            ninth.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while True:
                chunk = ninth.recv(4096)
                if not chunk:
                    break
                data += chunk
            ninth.close()
            head = data.partition(b"\r\n\r\n")[0].decode().lower()
            self.assertTrue(head.startswith("http/1.1 503 "), data)
            self.assertIn("retry-after: ", head)
            self.assertIn("connection: close", head)
            # Room again once one closes.
            held.pop().close()
            time.sleep(0.3)
            self.assertEqual(self.ping(s), 200)
        finally:
            for sock in held:
                sock.close()
            self.assertEqual(s.stop(), 0)

    def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(self):
        s = Server("--store", "sqlite:///" + self.demo, "--tokens", self.tokens,
                   "--idle-connection-timeout", "0.5", "--read-timeout", "10")
        try:
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            t0 = time.monotonic()
            self.assertEqual(sock.recv(1), b"")  # closed, no answer
            elapsed = time.monotonic() - t0
            sock.close()
            self.assertGreater(elapsed, 0.3)
            self.assertLess(elapsed, 5)
            # Between keep-alive requests too; a request in progress has --read-timeout.
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            self.assertEqual(r.getheader("Connection"), "keep-alive")
            self.assertIsNone(r.getheader("Keep-Alive"))  # under a second: no hint
            t0 = time.monotonic()
            self.assertEqual(c.sock.recv(1), b"")
            self.assertLess(time.monotonic() - t0, 5)
            c.close()
        finally:
            self.assertEqual(s.stop(), 0)


class HttpReplicas(unittest.TestCase):
    """Two replicas on one store serve one client alternately, paging included."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-http-")
        cls.demo = os.path.join(cls.tmp.name, "demo.db")
        rc, out, err = run("demo", "--out", cls.demo)
        assert rc == 0, err
        cls.tokens = os.path.join(cls.tmp.name, "tokens")
        cls.acme = run("token", "add", "--tenant", "acme", "--tokens", cls.tokens)[1].strip()
        cls.key = os.path.join(cls.tmp.name, "cursor.key")
        with open(cls.key, "w") as f:
            f.write("k" * 48 + "\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def page(self, server, cursor):
        args = {"limit": 25}
        if cursor:
            args["cursor"] = cursor
        status, _, body = post(server, call("audit_query", args), token=self.acme,
                               headers={"MCP-Protocol-Version": "2025-11-25"})
        self.assertEqual(status, 200)
        return json.loads(body)["result"]

    def walk(self, servers, limit_pages=6):
        hashes, cursor = [], None
        for i in range(limit_pages):
            result = self.page(servers[i % len(servers)], cursor)
            if result.get("isError"):
                return hashes, result
            sc = result["structuredContent"]
            hashes += [(r["source_node_id"], r["monotonic_seq"], r["id"]) for r in sc["rows"]]
            cursor = sc.get("next_cursor")
            if not cursor:
                break
        return hashes, None

    def test_alternating_replicas_with_a_shared_cursor_key_page_like_one(self):
        args = ("--store", "sqlite:///" + self.demo, "--tokens", self.tokens)
        a = Server(*args, "--cursor-key", self.key)
        b = Server(*args, "--cursor-key", self.key)
        try:
            alternating, err = self.walk([a, b])
            self.assertIsNone(err)
            single, err = self.walk([a])
            self.assertIsNone(err)
            self.assertEqual(alternating, single)
            self.assertEqual(len(set(single)), len(single))
            self.assertGreater(len(single), 100)
        finally:
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)

    def test_without_a_shared_key_a_foreign_cursor_is_a_clear_tool_error(self):
        args = ("--store", "sqlite:///" + self.demo, "--tokens", self.tokens)
        a, b = Server(*args), Server(*args)
        try:
            _, err = self.walk([a, b])
            self.assertIsNotNone(err)
            self.assertIn("cursor", err["content"][0]["text"])
        finally:
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)

    def test_short_cursor_key_is_refused(self):
        short = os.path.join(self.tmp.name, "short.key")
        with open(short, "w") as f:
            f.write("abc")
        rc, _, err = run("serve", "--http", "127.0.0.1:0", "--store", "sqlite:///" + self.demo,
                         "--tokens", self.tokens, "--cursor-key", short)
        self.assertEqual(rc, 2)
        self.assertIn("at least 32 bytes", err)


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class HttpPostgres(unittest.TestCase):
    """The HTTP server on a real, throwaway Postgres: two replicas, and the database restarting
    under load (scripts/pg-cluster.sh, scripts/pg-load-demo.sh)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fasten-http-pg-")
        os.chmod(cls.tmp, 0o755)
        cls.cluster = os.path.join(cls.tmp, "pg")
        os.mkdir(cls.cluster)
        cls.pg = os.path.join(REPO, "scripts", "pg-cluster.sh")
        out = subprocess.run(["bash", cls.pg, "start", cls.cluster], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        cls.dsn = out.stdout.strip().splitlines()[-1]
        cls.demo = os.path.join(cls.tmp, "demo.db")
        rc, _, err = run("demo", "--out", cls.demo)
        assert rc == 0, err
        load = subprocess.run(["bash", os.path.join(REPO, "scripts", "pg-load-demo.sh"), cls.demo,
                               cls.dsn], capture_output=True, text=True, timeout=300)
        assert load.returncode == 0, load.stderr
        cls.tokens = os.path.join(cls.tmp, "tokens")
        cls.acme = run("token", "add", "--tenant", "acme", "--tokens", cls.tokens)[1].strip()
        cls.key = os.path.join(cls.tmp, "cursor.key")
        with open(cls.key, "w") as f:
            f.write("q" * 40)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["bash", cls.pg, "stop", cls.cluster], capture_output=True, timeout=120)
        subprocess.run(["rm", "-rf", cls.tmp])

    def lookup(self, server, request_id="sched-5e1f0a7c"):
        status, _, body = post(server, call("audit_query", {"request_id": request_id}),
                               token=self.acme, headers={"MCP-Protocol-Version": "2025-11-25"})
        self.assertEqual(status, 200)
        return json.loads(body)["result"]

    def test_two_replicas_on_one_postgres_serve_one_client_alternately(self):
        args = ("--store", self.dsn, "--tokens", self.tokens, "--cursor-key", self.key)
        a, b = Server(*args), Server(*args)
        try:
            seen, cursor = [], None
            for i in range(6):
                req = {"limit": 20}
                if cursor:
                    req["cursor"] = cursor
                status, _, body = post((a, b)[i % 2], call("audit_query", req), token=self.acme,
                                       headers={"MCP-Protocol-Version": "2025-11-25"})
                self.assertEqual(status, 200)
                result = json.loads(body)["result"]
                self.assertFalse(result.get("isError"), result)
                sc = result["structuredContent"]
                seen += [(r["source_node_id"], r["monotonic_seq"], r["id"]) for r in sc["rows"]]
                self.assertEqual({r["tenant_id"] for r in sc["rows"]}, {"acme"})
                cursor = sc.get("next_cursor")
                if not cursor:
                    break
            self.assertEqual(len(seen), len(set(seen)))
            self.assertGreaterEqual(len(seen), 100)
        finally:
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)

    def test_postgres_restart_under_load_gives_tool_errors_then_recovers(self):
        s = Server("--store", self.dsn, "--tokens", self.tokens)
        stop_load = threading.Event()
        outcomes = []

        def load():
            while not stop_load.is_set():
                try:
                    r = self.lookup(s)
                    outcomes.append("error" if r.get("isError") else "ok")
                except Exception as e:  # a transport failure would be a defect
                    outcomes.append("transport: %r" % e)

        try:
            self.assertFalse(self.lookup(s).get("isError"))
            threads = [threading.Thread(target=load) for _ in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            subprocess.run(["bash", self.pg, "stop", self.cluster], check=True,
                           capture_output=True, timeout=120)
            time.sleep(1.0)
            down = self.lookup(s)
            self.assertTrue(down.get("isError"), down)
            text = down["content"][0]["text"].lower()
            self.assertTrue("postgres" in text or "store" in text, text)
            c = s.conn()
            c.request("GET", "/readyz")
            self.assertEqual(c.getresponse().status, 503)
            out = subprocess.run(["bash", self.pg, "start", self.cluster], capture_output=True,
                                 text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            deadline = time.monotonic() + 20
            ok = False
            while time.monotonic() < deadline and not ok:
                ok = not self.lookup(s).get("isError")
                if not ok:
                    time.sleep(0.2)
            self.assertTrue(ok, "calls did not recover after Postgres came back")
            stop_load.set()
            for t in threads:
                t.join(30)
            self.assertFalse([o for o in outcomes if o.startswith("transport")], outcomes[:5])
            self.assertIn("ok", outcomes)
            self.assertIn("error", outcomes)
            c = s.conn()
            c.request("GET", "/readyz")
            self.assertEqual(c.getresponse().status, 200)
            self.assertIsNone(s.proc.poll(), "server exited")
        finally:
            stop_load.set()
            self.assertEqual(s.stop(), 0)


class HttpLongCalls(unittest.TestCase):
    """Calls long enough to overlap a signal, a deadline or a disconnect: a bigger store."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-http-")
        cls.demo = os.path.join(cls.tmp.name, "big.db")
        rc, out, err = run("demo", "--out", cls.demo, "--audit-rows", "400000")
        assert rc == 0, err

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def start_verify(self, server, id="long"):
        c = server.conn(timeout=120)
        c.request("POST", "/mcp", body=json.dumps(call("chain_verify", {}, id=id)),
                  headers={"Content-Type": "application/json", "Accept": ACCEPT,
                           "MCP-Protocol-Version": "2025-11-25"})
        return c

    def test_sigterm_drains_in_flight_calls_then_exits_0(self):
        s = Server("--store", "sqlite:///" + self.demo, "--all-tenants")
        # With a progress token the response starts (SSE priming event) once the call runs, so
        # the signal comes while it is in flight. (A fixed sleep raced a loaded machine: the
        # signal came before the server had read the request, and a connection with no request
        # read yet is closed by a drain.)
        c = s.conn(timeout=120)
        c.request("POST", "/mcp",
                  body=json.dumps(call("chain_verify", {}, id="long", meta={"progressToken": "d"})),
                  headers={"Content-Type": "application/json", "Accept": ACCEPT,
                           "MCP-Protocol-Version": "2025-11-25"})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(r.readline(), b"id: 0\n")
        s.proc.send_signal(signal.SIGTERM)
        text = r.read().decode()
        events = [json.loads(l[len("data: "):]) for l in text.splitlines()
                  if l.startswith("data: ") and l != "data: "]
        self.assertEqual(events[-1]["id"], "long")
        result = events[-1]["result"]
        self.assertFalse(result.get("isError"), result)
        self.assertTrue(result["structuredContent"]["ok"])
        self.assertEqual(s.proc.wait(30), 0)
        self.assertTrue(any("draining 1 call" in l for l in s.log), "".join(s.log))
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", s.port), timeout=2)

    def test_call_timeout_stops_the_call_with_a_tool_error(self):
        # 0.2 s: verifying the 400 k-row store takes 0.7 s on a fast machine (a 1 s limit let
        # the call finish first there), and several seconds under ASan.
        s = Server("--store", "sqlite:///" + self.demo, "--all-tenants", "--call-timeout", "0.2")
        try:
            t0 = time.monotonic()
            c = self.start_verify(s)
            r = c.getresponse()
            result = json.loads(r.read())["result"]
            self.assertLess(time.monotonic() - t0, 5)
            self.assertTrue(result.get("isError"), result)
            self.assertIn("stopped after 0.2 s", result["content"][0]["text"])
        finally:
            self.assertEqual(s.stop(), 0)

    def test_stdio_call_timeout_gives_the_same_tool_error_and_the_next_call_works(self):
        # The same flag on stdio: the same error text as over HTTP, and the call after works.
        meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}}
        lines = [json.dumps(call("chain_verify", {}, id="long", meta=meta)),
                 json.dumps(call("audit_query", {"limit": 1}, id="next", meta=meta))]
        p = subprocess.run([BIN, "serve", "--store", "sqlite:///" + self.demo, "--all-tenants",
                            "--call-timeout", "0.2", "--log-level", "error"],
                           input="".join(l + "\n" for l in lines), capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = {r["id"]: r for r in map(json.loads, p.stdout.splitlines())}
        long = got["long"]["result"]
        self.assertTrue(long.get("isError"), long)
        self.assertEqual(long["content"][0]["text"],
                         "chain_verify: stopped after 0.2 s (the server's --call-timeout); narrow "
                         "the query, e.g. a shorter time window or one node")
        nxt = got["next"]["result"]
        self.assertFalse(nxt.get("isError"), nxt)
        self.assertEqual(len(nxt["structuredContent"]["rows"]), 1)

    def test_client_disconnect_cancels_the_call(self):
        s = Server("--store", "sqlite:///" + self.demo, "--all-tenants", "--log-level", "debug")
        try:
            c = self.start_verify(s)
            time.sleep(0.1)  # as above: well inside the call
            c.sock.shutdown(socket.SHUT_RDWR)
            c.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any("call cancelled" in l for l in s.log):
                time.sleep(0.05)
            self.assertTrue(any("call cancelled" in l for l in s.log), "".join(s.log))
            # The server is still fine.
            self.assertEqual(post(s, {"jsonrpc": "2.0", "id": 1, "method": "ping"})[0], 200)
        finally:
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
