#!/usr/bin/env python3
"""Issue 12's reproducers against the real binary: no request can take the server down.

Each case sends what an attacker holding one tenant's token would, then checks that the answer
is a clear error and that the next ordinary call (and /healthz) still works:
- ~100 k levels of nested arrays in tools/call arguments, _meta, initialize and tools/list, over
  stdio and over HTTP, and in a model provider's tool-call arguments during
  POST /api/v1/investigate;
- a request holding a lone surrogate escape (valid JSON text) is answered with its id;
- errors whose id cannot be read carry "id": null;
- search.streams with 10,000 entries is refused by the schema, at once;
- `verify --ndjson` reports a node whose rows are all unsealed.

Environment: FASTEN_MCP (binary), FAKE_LLM (tests/fakes/fake_llm.py), PYTHON.
"""
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_test import META, Server, call, modern_headers, post, run  # noqa: E402
from investigate_test import KEYS, Fake  # noqa: E402
from serve_http import ServeHttp  # noqa: E402

BIN = os.environ.get("FASTEN_MCP", "build/fasten-mcp")
DEEP = "[" * 100000 + "]" * 100000


def stdio_session(store, lines, tenant="acme"):
    """Runs `serve` over stdio with `lines` on stdin; returns (exit status, responses, stderr)."""
    p = subprocess.run([BIN, "serve", "--store", "sqlite:///" + store, "--tenant", tenant,
                        "--log-level", "error"],
                       input="".join(l + "\n" for l in lines), capture_output=True, text=True,
                       timeout=120)
    return p.returncode, [json.loads(l) for l in p.stdout.splitlines() if l.strip()], p.stderr


def modern_call(tool, args, id):
    return json.dumps(call(tool, args, id=id, meta=META))


class Robustness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-robust-")
        cls.demo = os.path.join(cls.tmp.name, "demo.db")
        rc, _, err = run("demo", "--out", cls.demo)
        assert rc == 0, err

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def by_id(self, responses):
        return {json.dumps(r.get("id")): r for r in responses}

    # --- stdio ------------------------------------------------------------------------------
    def test_stdio_deep_nesting_is_an_error_and_the_next_call_works(self):
        deep_args = ('{"jsonrpc":"2.0","id":"deep","method":"tools/call","params":{"name":'
                     '"audit_query","arguments":{"code":' + DEEP + '},"_meta":'
                     + json.dumps(META) + '}}')
        deep_meta = '{"jsonrpc":"2.0","id":"meta","method":"tools/list","params":{"_meta":' \
            + DEEP + '}}'
        deep_init = '{"jsonrpc":"2.0","id":"init","method":"initialize","params":' \
            '{"protocolVersion":"2025-06-18","capabilities":' + DEEP + '}}'
        rc, responses, err = stdio_session(self.demo, [
            deep_args, deep_meta, deep_init, modern_call("topology", {}, 4)])
        self.assertEqual(rc, 0, err)  # was: 139 (SIGSEGV)
        got = self.by_id(responses)
        for rid in ('"deep"', '"meta"', '"init"'):
            self.assertIn(rid, got, responses)
            self.assertEqual(got[rid]["error"]["code"], -32600)
            self.assertIn("limit of 64 levels", got[rid]["error"]["message"])
        self.assertIn("result", got["4"])
        self.assertFalse(got["4"]["result"].get("isError", False))

    def test_stdio_lone_surrogate_is_answered_with_its_id(self):
        line = modern_call("audit_query", {"code": "X"}, 7).replace('"X"', '"X\\ud800"')
        rc, responses, err = stdio_session(self.demo, [line, "{bad json"])
        self.assertEqual(rc, 0, err)
        got = self.by_id(responses)
        self.assertIn("7", got, responses)  # was: answered without its id
        self.assertIn("result", got["7"])
        # An error whose id cannot be read carries "id": null, not no id.
        self.assertIn("null", got)
        self.assertEqual(got["null"]["error"]["code"], -32700)

    def test_search_streams_is_bounded(self):
        rc, responses, err = stdio_session(self.demo, [
            modern_call("search", {"query": "stripe", "since": "now-3650d",
                                   "streams": ["audit"] * 10000}, 1),
            modern_call("search", {"query": "stripe", "since": "now-3650d",
                                   "streams": ["audit", "audit"]}, 2),
            modern_call("search", {"query": "stripe", "since": "now-3650d",
                                   "streams": ["audit", "api"]}, 3)])
        self.assertEqual(rc, 0, err)
        got = self.by_id(responses)
        self.assertTrue(got["1"]["result"]["isError"])
        self.assertIn("streams: must hold at most 3 items; got 10000",
                      got["1"]["result"]["content"][0]["text"])
        self.assertTrue(got["2"]["result"]["isError"])
        self.assertIn("must not repeat", got["2"]["result"]["content"][0]["text"])
        self.assertFalse(got["3"]["result"].get("isError", False), got["3"])

    # --- HTTP -------------------------------------------------------------------------------
    def test_http_deep_bodies_get_400_and_the_server_keeps_serving(self):
        tokens = os.path.join(self.tmp.name, "tokens")
        rc, out, err = run("token", "add", "--tenant", "acme", "--tokens", tokens)
        self.assertEqual(rc, 0, err)
        acme = out.strip()
        server = Server("--store", "sqlite:///" + self.demo, "--tokens", tokens)
        try:
            bodies = {
                "initialize": '{"jsonrpc":"2.0","id":1,"method":"initialize","params":'
                              '{"protocolVersion":"2025-06-18","capabilities":' + DEEP + '}}',
                "tools/list": '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":'
                              + DEEP + '}}',
                "tools/call": '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":'
                              '"audit_query","arguments":{"code":' + DEEP + '}}}',
            }
            for method, body in bodies.items():
                status, headers, data = post(server, body, token=acme, raw=True,
                                             headers={"MCP-Protocol-Version": "2025-06-18"})
                self.assertEqual(status, 400, (method, data[:300]))
                err = json.loads(data)
                self.assertEqual(err["error"]["code"], -32600)
                self.assertIn("limit of 64 levels", err["error"]["message"])
                self.assertIn("id", err)
                # The server is still up for everyone.
                c = server.conn()
                c.request("GET", "/healthz")
                self.assertEqual(c.getresponse().status, 200)
                c.close()
            status, _, data = post(server, call("topology", {}, id=9, meta=META), token=acme,
                                   headers=modern_headers("tools/call", "topology"))
            self.assertEqual(status, 200, data)
            self.assertFalse(json.loads(data)["result"].get("isError", False))
        finally:
            self.assertEqual(server.stop(), 0)

    def test_investigate_with_deeply_nested_model_arguments_keeps_the_server_up(self):
        deep_call = {"tool_calls": [{"name": "audit_query", "raw_arguments": DEEP}],
                     "usage": {"input": 100, "output": 10}}
        fake = Fake(self.tmp.name, {"turns": [deep_call, {"text": "no answer", "repeat": 20}]})
        tokens = os.path.join(self.tmp.name, "tokens-investigate")
        rc, out, err = run("token", "add", "--tenant", "acme", "--tokens", tokens)
        self.assertEqual(rc, 0, err)
        acme = out.strip()
        e = dict(os.environ)
        e.update(KEYS)
        server = ServeHttp(
            BIN, ["--store", "sqlite:///" + self.demo,
                  "--tokens", tokens, "--provider", "openai", "--model", "gpt-4.1-mini",
                  "--base-url", fake.url + "/openai",
                  "--state", os.path.join(self.tmp.name, "state.db")], e)
        try:
            self.assertTrue(server.port, "".join(server.log))
            import http.client
            c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            c.request("POST", "/api/v1/investigate", body=json.dumps({"question": "why?"}),
                      headers={"Authorization": "Bearer " + acme,
                               "Content-Type": "application/json", "Accept": "application/json"})
            r = c.getresponse()
            data = r.read().decode()
            c.close()
            self.assertEqual(r.status, 200, data)
            result = json.loads(data)
            self.assertNotEqual(result["outcome"], "accepted", data)
            # The model was told its arguments were refused, naming the limit.
            sent = json.dumps(fake.requests()[1]["body"]) if len(fake.requests()) > 1 else ""
            self.assertIn("limit of 64 levels", sent)
            c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            c.request("GET", "/healthz")
            self.assertEqual(c.getresponse().status, 200)
            c.close()
        finally:
            returncode = server.stop()
            fake.stop()
        self.assertEqual(returncode, 0, "".join(server.log)[-5000:])

    # --- verify --ndjson --------------------------------------------------------------------
    def test_verify_ndjson_reports_a_node_with_only_unsealed_rows(self):
        # Phase-1 lines (unsealed: no hash) never superseded by a sealed line.
        path = os.path.join(self.tmp.name, "unsealed.ndjson")
        with open(path, "w") as f:
            for seq in range(1, 4):
                f.write(json.dumps({
                    "id": "row-%d" % seq, "origin_id": "o", "monotonic_seq": seq,
                    "timestamp": "2026-11-20T14:00:0%dZ" % seq, "code": "X", "action": "a",
                    "severity": "info", "service_id": "svc", "source_node_id": "rust-node",
                    "actor": "u", "actor_kind": "user", "target": "t", "category": "c",
                    "domain": "d", "method": "m", "request_id": "r", "detail": {},
                    "wire_version": 1, "canonical_form_id": "2", "hash": "",
                    "prev_hash": ""}) + "\n")
        rc, out, err = run("verify", "--ndjson", path, "--json", "--no-progress")
        report = json.loads(out)
        self.assertEqual(report["summary"]["unsealed"], 3, out + err)
        self.assertEqual([n["source_node_id"] for n in report["nodes"]], ["rust-node"], out)


class WalStore(unittest.TestCase):
    """Issue 12: reading a WAL store left -wal/-shm files beside it, although nothing was said
    about it; a copy in a read-only directory must open without writing anything."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-wal-")
        os.chmod(cls.tmp.name, 0o755)  # `nobody` must reach the copies below
        cls.demo = os.path.join(cls.tmp.name, "demo.db")
        rc, _, err = run("demo", "--out", cls.demo)
        assert rc == 0, err
        with open(cls.demo, "rb") as f:
            assert f.read(20)[18:20] == b"\x02\x02", "demo store is not WAL"

    @classmethod
    def tearDownClass(cls):
        for root, dirs, _ in os.walk(cls.tmp.name):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        cls.tmp.cleanup()

    def read_only_copy(self, name, with_wal=False):
        d = os.path.join(self.tmp.name, name)
        os.mkdir(d)
        path = os.path.join(d, "store.db")
        shutil.copy(self.demo, path)
        if with_wal:
            # A live writer's state: rows still in the -wal file, copied while it was open.
            w = sqlite3.connect(path)
            w.execute("PRAGMA wal_autocheckpoint=0")
            w.execute("CREATE TABLE pending(x)")
            w.commit()
            shutil.copy(path, path + ".copy")
            shutil.copy(path + "-wal", path + ".copy-wal")
            w.close()
            os.replace(path + ".copy", path)
            os.replace(path + ".copy-wal", path + "-wal")
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o444)
        os.chmod(d, 0o555)
        return d, path

    def as_unprivileged(self, *args):
        """Runs the binary as a user the directory permissions apply to (root ignores them)."""
        cmd = [os.path.abspath(BIN), *args]
        if os.geteuid() == 0:
            if not shutil.which("runuser"):
                self.skipTest("running as root without runuser: cannot drop privileges")
            # `nobody` may not reach the build tree (a checkout under a 0700 directory): run a
            # copy from the temporary directory, which is world-readable.
            exe = os.path.join(self.tmp.name, "fasten-mcp")
            if not os.path.exists(exe):
                shutil.copy(BIN, exe)
                os.chmod(exe, 0o755)
            cmd = ["runuser", "-u", "nobody", "--", exe, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def test_a_wal_copy_in_a_read_only_directory_opens_without_writing(self):
        d, path = self.read_only_copy("ro")
        rc, out, err = self.as_unprivileged("verify", "--store", "sqlite:///" + path,
                                            "--no-progress")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(sorted(os.listdir(d)), ["store.db"])

    def test_immutable_in_the_dsn_writes_nothing_even_where_it_could(self):
        d = os.path.join(self.tmp.name, "rw")
        os.mkdir(d)
        path = os.path.join(d, "store.db")
        shutil.copy(self.demo, path)
        rc, out, err = run("verify", "--store", "sqlite:///" + path + "?immutable=1",
                           "--no-progress")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(sorted(os.listdir(d)), ["store.db"])
        # Without it, SQLite keeps its WAL companions beside a store it reads (documented).
        rc, out, err = run("verify", "--store", "sqlite:///" + path, "--no-progress")
        self.assertEqual(rc, 0, out + err)
        with open(path, "rb") as a, open(self.demo, "rb") as b:
            self.assertEqual(a.read(), b.read())
        rc, _, err = run("verify", "--store", "sqlite:///" + path + "?immutable=maybe")
        self.assertEqual(rc, 2)
        self.assertIn("immutable=1", err)

    def test_a_read_only_copy_with_a_pending_wal_file_says_what_to_do(self):
        d, path = self.read_only_copy("ro-wal", with_wal=True)
        rc, out, err = self.as_unprivileged("verify", "--store", "sqlite:///" + path,
                                            "--no-progress")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("?immutable=1", err)
        self.assertIn("wal_checkpoint", err)
        self.assertEqual(sorted(os.listdir(d)), ["store.db", "store.db-wal"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
