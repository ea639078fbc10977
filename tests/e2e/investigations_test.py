#!/usr/bin/env python3
"""End-to-end tests of the investigation record log (docs/investigations.md).

An investigation run from the CLI and one run over POST /api/v1/investigate (both against the
scripted fake provider, tests/fakes/fake_llm.py) and MCP tools/calls over HTTP leave records in
the state database; `fasten-mcp investigations list|show|verify` read them; GET
/api/v1/investigations[/ID] shows a token its own tenant's records only (another tenant's id is
a 404 exactly like an unknown one). Then the state database is tampered with Python's sqlite3
(one record edited, one deleted, two swapped) and `investigations verify` exits 1 naming each.

Environment: FASTEN_MCP (binary), FAKE_LLM (tests/fakes/fake_llm.py), PYTHON.
"""
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from investigate_test import BIN, GOOD, KEYS, REFUND, TRACE, Fake, run  # noqa: E402
from serve_http import ServeHttp  # noqa: E402

class Server(ServeHttp):
    """serve --http with the provider keys in its environment; fails the test when it does not
    start."""

    def __init__(self, args, env=None):
        e = dict(os.environ)
        e.update(KEYS)
        e.update(env or {})
        super().__init__(BIN, args, e)
        if self.port is None:
            self.stop()
            raise AssertionError("serve did not start: " + "".join(self.log))

    def request(self, method, path, token, body=None, accept="application/json"):
        status, _, data = super().request(method, path, token, body, accept)
        return status, data

    def call(self, token, name, arguments, call_id=1):
        body = {"jsonrpc": "2.0", "id": call_id, "method": "tools/call",
                "params": {"name": name, "arguments": arguments}}
        return self.request("POST", "/mcp", token, body,
                            accept="application/json, text/event-stream")


class Investigations(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fasten-investigations-")
        cls.demo = os.path.join(cls.tmp, "demo.db")
        rc, _, err = run("demo", "--out", cls.demo)
        assert rc == 0, err
        cls.tokens = os.path.join(cls.tmp, "tokens")
        rc, acme, err = run("token", "add", "--tenant", "acme", "--tokens", cls.tokens,
                            "--label", "acme-ops")
        assert rc == 0, err
        rc, globex, err = run("token", "add", "--tenant", "globex", "--tokens", cls.tokens)
        assert rc == 0, err
        cls.acme, cls.globex = acme.strip(), globex.strip()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def records(self, state, *args):
        rc, out, err = run("investigations", "list", "--state", state, "--json", *args)
        self.assertEqual(rc, 0, err)
        return json.loads(out)["records"]

    def wait_for_access_records(self, state, n):
        deadline = time.time() + 10
        while time.time() < deadline:
            got = self.records(state, "--kind", "access")
            if len(got) >= n:
                return got
            time.sleep(0.1)
        self.fail("fewer than %d access records appeared in %s" % (n, state))

    def test_investigations_and_tool_calls_are_recorded_scoped_and_verified(self):
        state = os.path.join(self.tmp, "state.db")
        # 1. An investigation from the command line.
        fake = Fake(self.tmp, {"turns": [TRACE, GOOD]})
        try:
            rc, out, err = run("investigate", "Why did request %s fail?" % REFUND, "--tenant",
                               "acme", "--store", "sqlite:///" + self.demo, "--provider",
                               "anthropic", "--model", "test-model", "--base-url",
                               fake.url + "/anthropic", "--state", state, "--json", "--retries",
                               "0", env={"USER": "alice"})
        finally:
            fake.stop()
        self.assertEqual(rc, 0, err)
        cli_id = json.loads(out)["record"]
        self.assertRegex(cli_id, r"^inv-[0-9a-f]{16}$")

        # 2. One over HTTP, and tool calls of two tenants.
        fake = Fake(self.tmp, {"turns": [TRACE, GOOD]})
        server = Server(["--store", "sqlite:///" + self.demo, "--tokens", self.tokens,
                         "--provider", "openai", "--model", "gpt-4.1-mini", "--base-url",
                         fake.url + "/openai", "--state", state])
        try:
            st, data = server.request("POST", "/api/v1/investigate", self.acme,
                                      {"question": "what failed?"})
            self.assertEqual(st, 200, data)
            http_id = json.loads(data)["record"]
            self.assertRegex(http_id, r"^inv-[0-9a-f]{16}$")
            for i in range(3):
                st, data = server.call(self.acme, "audit_query", {"request_id": REFUND}, i)
                self.assertEqual(st, 200, data)
            st, data = server.call(self.globex, "row_get",
                                   {"monotonic_seq": 1, "hash": "e" * 64})
            self.assertEqual(st, 200, data)
            st, data = server.call(self.globex, "no_such_tool", {})
            self.assertEqual(st, 200, data)
            access = self.wait_for_access_records(state, 5)

            # GET /api/v1/investigations: each token sees its own tenant's records only.
            st, data = server.request("GET", "/api/v1/investigations", self.acme)
            self.assertEqual(st, 200, data)
            listed = json.loads(data)
            self.assertEqual(listed["tenant"], "acme")
            self.assertEqual([r["id"] for r in listed["records"]], [http_id, cli_id])
            self.assertEqual(listed["records"][0]["credential"], "acme-ops")
            self.assertEqual(listed["records"][1]["credential"], "cli:alice")
            st, data = server.request("GET", "/api/v1/investigations?kind=all&limit=1000",
                                      self.globex)
            self.assertEqual(st, 200, data)
            theirs = json.loads(data)["records"]
            self.assertEqual({r["tenant"] for r in theirs}, {"globex"})
            self.assertEqual({r["kind"] for r in theirs}, {"access"})
            self.assertNotIn(http_id, data)
            self.assertNotIn(cli_id, data)
            # Another tenant's id answers exactly like an id that does not exist.
            st_other, other = server.request("GET", "/api/v1/investigations/" + http_id,
                                             self.globex)
            st_none, none = server.request("GET", "/api/v1/investigations/inv-0000000000000000",
                                           self.globex)
            self.assertEqual((st_other, other), (st_none, none))
            self.assertEqual(st_other, 404)
            st, data = server.request("GET", "/api/v1/investigations/" + http_id, self.acme)
            self.assertEqual(st, 200, data)
            self.assertEqual(json.loads(data)["content"]["question"], "what failed?")
            st, data = server.request("GET", "/api/v1/investigations?limit=0", self.acme)
            self.assertEqual(st, 400, data)
            st, data = server.request("GET", "/api/v1/investigations?tenant=globex", self.acme)
            self.assertEqual(st, 400, data)
            st, _ = server.request("GET", "/api/v1/investigations", "wrong-token")
            self.assertEqual(st, 401)
        finally:
            self.assertEqual(server.stop(), 0, "".join(server.log)[-3000:])
            fake.stop()

        # 3. The access records: tool, credential, digest of the arguments, rows, status.
        access = self.records(state, "--kind", "access", "--all-tenants")
        self.assertEqual(len(access), 5, access)
        by_tool = {}
        for r in access:
            by_tool.setdefault(r["tool"], []).append(r)
        self.assertEqual(len(by_tool["audit_query"]), 3)
        a = by_tool["audit_query"][0]
        self.assertEqual((a["tenant"], a["credential"], a["status"], a["rows"]),
                         ("acme", "acme-ops", "ok", 2))
        self.assertEqual(by_tool["row_get"][0]["tenant"], "globex")
        self.assertEqual(by_tool["no_such_tool"][0]["status"], "rpc_error")
        rc, out, err = run("investigations", "show", a["id"], "--state", state, "--json")
        self.assertEqual(rc, 0, err)
        shown = json.loads(out)
        self.assertRegex(shown["content"]["arguments_sha256"], r"^[0-9a-f]{64}$")
        self.assertNotIn(REFUND, out)  # the arguments themselves are not kept

        # 4. The investigation record: question, tool calls with arguments, rows shown as
        # (stream, seq, hash), answers, verdict, tokens and cost.
        rc, out, err = run("investigations", "show", cli_id, "--state", state, "--json")
        self.assertEqual(rc, 0, err)
        rec = json.loads(out)
        c = rec["content"]
        self.assertEqual((rec["tenant"], c["credential"], c["provider"], c["model"]),
                         ("acme", "cli:alice", "anthropic", "test-model"))
        self.assertEqual(c["question"], "Why did request %s fail?" % REFUND)
        self.assertEqual(c["tool_calls"][0]["name"], "request_trace")
        self.assertEqual(c["tool_calls"][0]["arguments"]["request_id"], REFUND)
        self.assertEqual(len(c["rows_shown"]), 11)
        self.assertEqual(set(c["rows_shown"][0]), {"stream", "seq", "hash"})
        self.assertEqual(len(c["answers"]), 1)
        self.assertEqual(c["outcome"], "accepted")
        self.assertTrue(c["verdict"]["accepted"])
        self.assertIn("usage", c)
        self.assertIn("cost_usd", c)
        rc, out, err = run("investigations", "show", cli_id, "--state", state, "--tenant",
                           "globex")
        self.assertEqual(rc, 2)
        self.assertIn("no record " + cli_id, err)
        rc, out, err = run("investigations", "list", "--state", state)
        self.assertEqual(rc, 0, err)
        self.assertIn(cli_id, out)
        self.assertIn("accepted by cli:alice", out)

        # 5. verify: intact, then tampered.
        rc, out, err = run("investigations", "verify", "--state", state)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("OK - 7 record(s) verified", out)
        self.assertIn("Tail truncation", out)
        db = sqlite3.connect(state)
        rows = db.execute("SELECT seq, id FROM investigation_records ORDER BY seq").fetchall()
        self.assertEqual([s for s, _ in rows], list(range(1, 8)))
        ids = dict(rows)
        db.execute("UPDATE investigation_records SET record = replace(record, 'alice', 'mallory')"
                   " WHERE seq = 1")
        db.execute("DELETE FROM investigation_records WHERE seq = 3")
        db.execute("CREATE TEMP TABLE s AS SELECT * FROM investigation_records WHERE seq IN (5, 7)")
        db.execute("UPDATE investigation_records SET id = 'tmp-' || seq WHERE seq IN (5, 7)")
        db.execute("UPDATE investigation_records SET (id, kind, tenant, created_at, record, "
                   "prev_hash, hash) = (SELECT id, kind, tenant, created_at, record, prev_hash, "
                   "hash FROM s WHERE s.seq = 12 - investigation_records.seq) "
                   "WHERE seq IN (5, 7)")
        db.commit()
        db.close()
        rc, out, err = run("investigations", "verify", "--state", state)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("FAIL - 4 finding(s)", out)
        self.assertIn("seq 1 %s: record_altered" % ids[1], out)
        self.assertIn("seq 4 %s: record_missing: seq 3 is missing" % ids[4], out)
        self.assertIn("seq 5 %s: record_out_of_order" % ids[7], out)
        self.assertIn("seq 7 %s: record_out_of_order" % ids[5], out)
        rc, out, err = run("investigations", "verify", "--state", state, "--json")
        self.assertEqual(rc, 1, err)
        v = json.loads(out)
        self.assertFalse(v["ok"])
        self.assertEqual([(f["seq"], f["reason"]) for f in v["findings"]],
                         [(1, "record_altered"), (4, "record_missing"),
                          (5, "record_out_of_order"), (7, "record_out_of_order")])
        # list and show still work on the tampered log.
        self.assertEqual(len(self.records(state, "--kind", "all")), 6)

    def test_no_access_records_and_state_errors(self):
        state = os.path.join(self.tmp, "quiet.db")
        server = Server(["--store", "sqlite:///" + self.demo, "--tokens", self.tokens,
                         "--state", state, "--no-access-records"])
        try:
            st, data = server.call(self.acme, "audit_query", {"request_id": REFUND})
            self.assertEqual(st, 200, data)
            # Without a provider and without access records the log is not served.
            st, _ = server.request("GET", "/api/v1/investigations", self.acme)
            self.assertEqual(st, 404)
        finally:
            self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(state))
        # A state database that cannot be opened is a clear startup error.
        blocker = os.path.join(self.tmp, "not-a-dir")
        with open(blocker, "w") as f:
            f.write("x")
        rc, _, err = run("serve", "--http", "127.0.0.1:0", "--store", "sqlite:///" + self.demo,
                         "--tokens", self.tokens, "--state", os.path.join(blocker, "state.db"))
        self.assertEqual(rc, 2)
        self.assertIn("cannot keep access records", err)
        self.assertIn("--no-access-records", err)
        # Records are served over HTTP with access records on (no provider needed).
        state = os.path.join(self.tmp, "access-only.db")
        server = Server(["--store", "sqlite:///" + self.demo, "--tokens", self.tokens,
                         "--state", state])
        try:
            st, data = server.call(self.acme, "topology", {})
            self.assertEqual(st, 200, data)
        finally:
            self.assertEqual(server.stop(), 0)
        # The drain appended the queued record before exit.
        access = self.records(state, "--kind", "access")
        self.assertEqual([(r["tool"], r["tenant"]) for r in access], [("topology", "acme")])

    def test_cli_usage(self):
        rc, out, err = run("investigations", "--help")
        self.assertEqual(rc, 0)
        rc2, out2, _ = run("help", "investigations")
        self.assertEqual((rc2, out2), (0, out))
        self.assertIn("record_out_of_order", out)
        for args in (["investigations"], ["investigations", "frobnicate"],
                     ["investigations", "verify", "--tenant", "acme"],
                     ["investigations", "list", "--limit", "0"],
                     ["investigations", "list", "--kind", "nope"],
                     ["investigations", "list", "--tenant", "a", "--all-tenants"],
                     ["investigations", "show"]):
            rc, _, err = run(*args, "--state", os.path.join(self.tmp, "none.db"))
            self.assertEqual(rc, 2, args)
            self.assertIn("fasten-mcp investigations:", err)
        # A state database that does not exist: nothing listed, verify says so.
        rc, out, err = run("investigations", "list", "--state", os.path.join(self.tmp, "none.db"))
        self.assertEqual(rc, 0, err)
        self.assertIn("no investigation records", out)
        rc, out, err = run("investigations", "verify", "--state",
                           os.path.join(self.tmp, "none.db"))
        self.assertEqual(rc, 2)
        self.assertIn("no state database", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
