#!/usr/bin/env python3
"""End-to-end tests of the fasten-mcp CLI: the real binary on real demo stores.

Each check runs the binary as an operator would and asserts on exit codes, stdout and stderr.
Chain verdicts are cross-checked against scripts/fasten_peer.py, an independent CPython
implementation of the canonical forms (json.dumps + hashlib).

Environment: FASTEN_MCP (binary), FASTEN_PEER (peer script), PYTHON (interpreter).
"""
import base64
import datetime
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("FASTEN_MCP", "build/fasten-mcp")
PEER = os.environ.get("FASTEN_PEER", "scripts/fasten_peer.py")
PY = os.environ.get("PYTHON", sys.executable)


def run(*args, input=None, env=None):
    full_env = dict(os.environ)
    for k in ("FASTEN_AUDIT_DSN", "FASTEN_API_DSN", "FASTEN_SYSLOG_DSN"):
        full_env.pop(k, None)
    if env:
        full_env.update(env)
    p = subprocess.run([BIN, *args], input=input, capture_output=True, text=True, env=full_env,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-e2e-")
        cls.demo = os.path.join(cls.tmp.name, "demo.db")
        cls.tampered = os.path.join(cls.tmp.name, "tampered.db")
        rc, out, err = run("demo", "--out", cls.demo)
        assert rc == 0, err
        rc, out, err = run("demo", "--out", cls.tampered, "--tamper")
        assert rc == 0, err
        cls.tamper_line = [l for l in out.splitlines() if l.startswith("tampered:")][0]
        cls.demo_sha = sha256_file(cls.demo)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def dsn(self, path=None):
        return "sqlite:///" + (path or self.demo)  # absolute path: four slashes

    # --- help and usage -----------------------------------------------------------------

    def test_help_lists_every_command_and_exits_zero(self):
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        for cmd in ("demo", "verify", "query", "trace"):
            self.assertIn(cmd, out)
        for cmd in ("demo", "verify", "query", "trace"):
            rc, out, _ = run(cmd, "--help")
            self.assertEqual(rc, 0, cmd)
            self.assertIn("Usage: fasten-mcp " + cmd, out)
            rc2, out2, _ = run("help", cmd)
            self.assertEqual((rc2, out2), (0, out))

    def test_serve_help_lists_the_connection_and_jwt_limits(self):
        rc, out, _ = run("serve", "--help")
        self.assertEqual(rc, 0)
        for flag in ("--idle-connection-timeout", "--read-timeout", "--max-connections N",
                     "--max-connections-per-peer", "--jwt-max-lifetime"):
            self.assertIn(flag, out)

    def test_help_topic_prints_exactly_what_the_command_prints(self):
        # Issue 12: `help investigate` printed a literal %FLAGS%; `help serve` omitted the
        # investigate flags that `serve --help` lists.
        for cmd in ("demo", "verify", "query", "trace", "serve", "config", "index", "token",
                    "validate", "investigate", "spend", "keygen", "doctor"):
            rc, out, _ = run(cmd, "--help")
            self.assertEqual(rc, 0, cmd)
            self.assertEqual(run("help", cmd)[:2], (0, out), cmd)
            self.assertNotIn("%", out.replace("%%", ""), cmd)
        _, serve, _ = run("help", "serve")
        self.assertIn("--provider", serve)
        # --cursor-key applies to stdio too: listed with the general options, before HTTP's.
        self.assertLess(serve.index("--cursor-key"), serve.index("HTTP options:"))
        _, investigate, _ = run("help", "investigate")
        self.assertIn("--provider", investigate)

    def test_doctor_reports_health_and_finds_a_break_only_among_the_rows_it_checks(self):
        rc, out, err = run("doctor", "--store", self.dsn())
        self.assertEqual(rc, 0, out + err)
        self.assertIn("audit store", out)
        self.assertIn("OK (50 verified)", out)
        self.assertIn("no sealed rows: nothing to verify", out)  # the Rust-core node
        rc, out, err = run("doctor", "--store", self.dsn(), "--json")
        self.assertEqual(rc, 0, err)
        report = json.loads(out)
        self.assertTrue(report["ok"])
        self.assertEqual([s["stream"] for s in report["sources"]], ["audit", "sys", "api"])
        self.assertTrue(all(s["reachable"] for s in report["sources"]))
        # The tampered row is an old row of edge-us-1: the newest 50 rows verify, a wide check
        # finds it, names its seq and exits 1.
        rc, out, _ = run("doctor", "--store", self.dsn(self.tampered))
        self.assertEqual(rc, 0, out)
        rc, out, _ = run("doctor", "--store", self.dsn(self.tampered), "--rows-per-node", "5000")
        self.assertEqual(rc, 1, out)
        self.assertIn("BROKEN", out)
        self.assertIn("first at seq 1239", out)
        self.assertIn("PROBLEMS FOUND", out)
        # A store that is not there is a finding with the reason, not a crash; bad flags exit 2.
        missing = os.path.join(self.tmp.name, "missing.db")
        rc, out, _ = run("doctor", "--store", self.dsn(missing), "--json")
        self.assertEqual(rc, 1)
        report = json.loads(out)
        self.assertFalse(report["ok"])
        self.assertFalse(report["sources"][0]["reachable"])
        self.assertIn("does not exist", report["sources"][0]["error"])
        rc, _, err = run("doctor", "--store", self.dsn(), "--rows-per-node", "0")
        self.assertEqual(rc, 2)
        self.assertIn("--rows-per-node", err)

    def test_usage_errors_exit_two_with_a_clear_message(self):
        cases = [
            (["frobnicate"], "unknown command"),
            ([], "Usage"),
            (["verify"], "--store"),
            (["verify", "--store"], "needs a value"),
            (["verify", "--store", self.dsn(), "--bogus"], "unknown option '--bogus'"),
            (["verify", "--store", "sqlite:////no/such/dir/x.db"], "/no/such/dir/x.db"),
            (["verify", "--store", "sqlite:///x.db?table=a;drop"], "invalid table name"),
            (["verify", "--store", "mysql://h/db"], "unsupported store DSN"),
            (["verify", "--store", self.dsn(), "--ndjson", "x"], "not both"),
            (["verify", "--store", self.dsn(), "--from-seq", "zero"], "--from-seq"),
            (["verify", "--store", self.dsn(), "--since", "last week"], "now-15m"),
            (["verify", "--store", self.dsn(), "--until", "2026-11-20T24:00:00Z"], "--until"),
            (["verify", "--store", self.dsn(), "--since", "2026-11-21", "--until", "2026-11-20"],
             "after --until"),
            (["verify", "--store", self.dsn(), "--since", "2026-11-20", "--from-seq", "5"],
             "cannot be combined with --from-seq/--to-seq"),
            (["verify", "--ndjson", "x", "--until", "now"], "--store only"),
            (["query"], "audit, sys or api"),
            (["query", "logs", "--store", self.dsn()], "unknown stream"),
            (["query", "audit", "--store", self.dsn(), "--status", "500"], "does not apply"),
            (["query", "audit", "--store", self.dsn(), "--severity", "fatal"], "one of debug"),
            (["query", "audit", "--store", self.dsn(), "--since", "last week"], "now-15m"),
            (["query", "audit", "--store", self.dsn(), "--limit", "5000"], "1 to 1000"),
            (["query", "audit", "--store", self.dsn(), "--cursor", "garbage!"], "cursor"),
            (["query", "audit", "--store", self.dsn(), "--since", "2026-11-21T00:00:00Z",
              "--until", "2026-11-20T00:00:00Z"], "after --until"),
            (["trace", "--store", self.dsn()], "REQUEST_ID"),
            (["serve", "--http", "127.0.0.1:0", "--store", self.dsn(), "--all-tenants",
              "--call-timeout", "0.05"], "--call-timeout must be seconds from 0.1 to 86400"),
            (["serve", "--http", "127.0.0.1:0", "--store", self.dsn(), "--all-tenants",
              "--read-timeout", "1.2345"], "--read-timeout must be seconds from 0.1 to 3600"),
            (["serve", "--http", "127.0.0.1:0", "--store", self.dsn(), "--all-tenants",
              "--idle-connection-timeout", "0.05"],
             "--idle-connection-timeout must be seconds from 0.1 to 3600"),
            (["serve", "--http", "127.0.0.1:0", "--store", self.dsn(), "--all-tenants",
              "--max-connections", "0"], "--max-connections must be an integer from 1"),
            (["serve", "--http", "127.0.0.1:0", "--store", self.dsn(), "--all-tenants",
              "--max-connections-per-peer", "x"],
             "--max-connections-per-peer must be an integer from 1"),
            (["serve", "--store", self.dsn(), "--all-tenants", "--max-connections-per-peer", "9"],
             "--max-connections-per-peer applies to HTTP"),
            (["serve", "--http", "127.0.0.1:0", "--store", self.dsn(), "--jwt-alg", "HS256",
              "--jwt-key", "/no/such/key", "--jwt-audience", "a", "--jwt-max-lifetime", "-1"],
             "--jwt-max-lifetime must be an integer from 0"),
            (["serve", "--http", "127.0.0.1:0", "--store", self.dsn(), "--all-tenants",
              "--jwt-max-lifetime", "60"], "--jwt-max-lifetime needs --jwt-alg"),
            (["serve", "--store", self.dsn(), "--all-tenants", "--integrity-margin", "25h"],
             "--integrity-margin wants a duration such as 30m"),
            (["investigate", "q", "--tenant", "acme", "--store", self.dsn(), "--provider",
              "ollama", "--model", "m", "--integrity-margin", "30"],
             "--integrity-margin wants a duration such as 30m"),
            (["demo"], "--out"),
            (["demo", "--out", self.demo], "--force"),
        ]
        for args, needle in cases:
            rc, out, err = run(*args)
            self.assertEqual(rc, 2, (args, out, err))
            self.assertIn(needle, err, args)
            self.assertNotIn("terminate", err)
        rc, out, err = run("validate", "-", "--tenant", "acme", "--store", self.dsn(),
                           "--integrity-margin", "-1m", input='{"claims": []}')
        self.assertEqual(rc, 2, (out, err))
        self.assertIn("--integrity-margin wants a duration such as 30m", err)

    # --- verify -------------------------------------------------------------------------

    def test_demo_verifies_on_every_node_and_agrees_with_the_cpython_peer(self):
        rc, out, err = run("verify", "--store", self.dsn(), "--json")
        self.assertEqual(rc, 0, err)
        report = json.loads(out)
        self.assertTrue(report["ok"])
        self.assertTrue(report["upstream"]["ok"])
        self.assertGreaterEqual(len(report["nodes"]), 3)
        for node in report["nodes"]:
            self.assertTrue(node["ok"], node)
            for key in ("source_node_id", "total_rows", "verified", "unsealed", "first_break_at",
                        "reason", "tip"):
                self.assertIn(key, node)
        self.assertGreaterEqual(report["summary"]["total_rows"], 5000)
        peer = subprocess.run([PY, PEER, "verify", self.demo], capture_output=True, text=True)
        self.assertEqual(peer.returncode, 0, peer.stdout + peer.stderr)
        peer_report = json.loads(peer.stdout)
        self.assertEqual(peer_report["failure_count"], 0)
        self.assertEqual(peer_report["verified"] + peer_report["verified_form1_z"],
                         report["summary"]["valid"])
        self.assertEqual(peer_report["unsealed"], report["summary"]["unsealed"])

    def test_human_report_reads_like_validate_logs(self):
        rc, out, _ = run("verify", "--store", self.dsn())
        self.assertEqual(rc, 0)
        self.assertIn("rows valid", out)
        self.assertIn("Result: OK", out)
        self.assertIn("unsealed", out)
        self.assertIn("Tail truncation is not detectable", out)
        self.assertRegex(out, r"tip seq \d+ [0-9a-f]{64}")

    def test_tamper_is_found_at_the_right_row_with_the_exact_reason(self):
        # "tampered: node edge-us-1 seq N row evt-...: ..."
        words = self.tamper_line.split()
        node, seq, row_id = words[2], int(words[4]), words[6].rstrip(":")
        rc, out, err = run("verify", "--store", self.dsn(self.tampered), "--json")
        self.assertEqual(rc, 1, err)
        report = json.loads(out)
        self.assertFalse(report["ok"])
        self.assertEqual(report["upstream"]["first_break_at"], seq)
        self.assertEqual(report["upstream"]["reason"], f"row {row_id}: hash mismatch")
        broken = [n for n in report["nodes"] if not n["ok"]]
        self.assertEqual([n["source_node_id"] for n in broken], [node])
        self.assertEqual(broken[0]["first_break_at"], seq)
        self.assertEqual(broken[0]["classification"], "tampered-or-corrupt")
        peer = subprocess.run([PY, PEER, "verify", self.tampered], capture_output=True, text=True)
        self.assertEqual(peer.returncode, 1)
        failures = json.loads(peer.stdout)["failures"]
        self.assertEqual([(f["seq"], f["id"], f["kind"]) for f in failures],
                         [(seq, row_id, "hash")])
        rc, out, _ = run("verify", "--store", self.dsn(self.tampered))
        self.assertIn("FAIL", out)
        self.assertIn(f"first break at seq {seq}: row {row_id}: hash mismatch", out)

    def test_node_and_window_verification(self):
        rc, out, _ = run("verify", "--store", self.dsn(), "--node", "edge-eu-1", "--json")
        self.assertEqual(rc, 0)
        report = json.loads(out)
        self.assertEqual([n["source_node_id"] for n in report["nodes"]], ["edge-eu-1"])
        rc, out, _ = run("verify", "--store", self.dsn(), "--node", "edge-eu-1", "--from-seq",
                         "100", "--to-seq", "200", "--json")
        self.assertEqual(rc, 0)
        node = json.loads(out)["nodes"][0]
        self.assertEqual(node["total_rows"], 101)
        self.assertEqual(node["notes"], [])  # the first link was checked against seq 99
        rc, out, err = run("verify", "--store", self.dsn(), "--node", "no-such-node")
        self.assertEqual(rc, 0)
        self.assertIn("no rows for node", err)

    def test_time_window_verifies_as_the_seq_windows_it_resolves_to(self):
        # The tampered row's instant, from its stored spelling (microseconds, truncated).
        words = self.tamper_line.split()
        node, seq = words[2], int(words[4])
        con = sqlite3.connect(self.tampered)
        stored = con.execute("SELECT timestamp FROM audit_log WHERE source_node_id = ? AND "
                             "monotonic_seq = ?", (node, seq)).fetchone()[0]
        con.close()
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|\+00:00)?$", stored)
        self.assertIsNotNone(m, stored)
        t = datetime.datetime.fromisoformat(m.group(1)).replace(
            microsecond=int(((m.group(2) or "") + "000000")[:6]))
        iso = lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        until = iso(t + datetime.timedelta(hours=1))
        for since, broken in ((iso(t), True), (iso(t + datetime.timedelta(microseconds=1)), False)):
            rc, out, err = run("verify", "--store", self.dsn(self.tampered), "--since", since,
                               "--until", until, "--json", "--no-progress")
            self.assertEqual(rc, 1 if broken else 0, err)
            report = json.loads(out)
            window = report["window"]
            self.assertEqual((window["since"], window["until"]), (since, until))
            self.assertEqual([n["source_node_id"] for n in window["nodes"]],
                             [n["source_node_id"] for n in report["nodes"]])
            spans = {n["source_node_id"]: n for n in window["nodes"]}
            self.assertIn(node, spans)
            self.assertEqual(spans[node]["from_seq"] <= seq, broken)
            for got in report["nodes"]:
                span = spans[got["source_node_id"]]
                rc2, out2, err2 = run("verify", "--store", self.dsn(self.tampered), "--node",
                                      span["source_node_id"], "--from-seq", str(span["from_seq"]),
                                      "--to-seq", str(span["to_seq"]), "--json", "--no-progress")
                self.assertEqual(json.loads(out2)["nodes"], [got], err2)
                self.assertEqual(got["ok"], not (broken and got["source_node_id"] == node))
        # The human report names the window; a date alone is its 00:00:00Z; an empty window says so.
        rc, out, err = run("verify", "--store", self.dsn(), "--since", "2026-11-20", "--until",
                           "2026-11-20T14:00:00Z", "--node", "edge-eu-1", "--no-progress")
        self.assertEqual(rc, 0, err)
        self.assertIn("Time window 2026-11-20T00:00:00.000000Z .. 2026-11-20T14:00:00.000000Z "
                      "(inclusive) on node edge-eu-1", out)
        self.assertRegex(out, r"edge-eu-1 +seq 1\.\.\d+ \(\d+ row\(s\) timestamped in the window\)")
        self.assertIn("Result: OK", out)
        rc, out, err = run("verify", "--store", self.dsn(), "--since", "2030-01-01",
                           "--no-progress")
        self.assertEqual(rc, 0, err)
        self.assertIn("no audit rows in the time window", err)
        self.assertIn("no audit rows in it", out)

    def test_env_var_dsn_is_used_when_no_flag_is_given(self):
        rc, out, err = run("verify", env={"FASTEN_AUDIT_DSN": self.dsn()})
        self.assertEqual(rc, 0, err)

    def test_relative_dsn_resolves_against_the_working_directory(self):
        p = subprocess.run([os.path.abspath(BIN), "verify", "--store", "sqlite:///demo.db"],
                           cwd=self.tmp.name, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(self.demo, p.stdout)

    def test_ndjson_capture_with_two_phase_lines_verifies(self):
        path = os.path.join(self.tmp.name, "capture.ndjson")
        con = sqlite3.connect(self.demo)
        con.row_factory = sqlite3.Row
        with open(path, "w") as f:
            f.write(json.dumps({"shape": "sys", "level": "info", "event": "boot"}) + "\n")
            for row in con.execute("SELECT * FROM audit_log WHERE source_node_id = 'edge-eu-1' "
                                   "ORDER BY monotonic_seq"):
                d = dict(row)
                d["detail"] = json.loads(d["detail"]) if d["detail"] is not None else None
                d.pop("pii_in_detail")
                phase1 = dict(d, monotonic_seq=0, prev_hash="", hash="")
                f.write(json.dumps({"shape": "audit", **phase1}) + "\n")
                f.write(json.dumps({"shape": "audit", **d}) + "\n")
        con.close()
        rc, out, err = run("verify", "--ndjson", path, "--json")
        self.assertEqual(rc, 0, out + err)
        report = json.loads(out)
        self.assertTrue(report["ok"])
        self.assertEqual(report["ndjson"]["malformed"], 0)
        self.assertGreater(report["ndjson"]["superseded_phase1"], 1000)
        self.assertEqual(report["summary"]["unsealed"], 0)
        # Stdin works too, and a corrupted line is reported and fails the run.
        with open(path) as f:
            lines = f.read().splitlines()
        lines[5] = lines[5][:30]
        rc, out, err = run("verify", "--ndjson", "-", input="\n".join(lines) + "\n")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("malformed", out)
        self.assertIn("line 6", out)

    def test_verify_never_writes_to_the_store(self):
        for args in (["verify", "--store", self.dsn()],
                     ["query", "audit", "--store", self.dsn(), "--limit", "5"],
                     ["trace", "3a7b1c9e4d20", "--store", self.dsn()]):
            run(*args)
        self.assertEqual(sha256_file(self.demo), self.demo_sha)

    # --- query and trace ----------------------------------------------------------------

    def test_query_audit_pages_to_the_end_without_gaps_or_repeats(self):
        seen, cursor, pages = [], None, 0
        while True:
            args = ["query", "audit", "--store", self.dsn(), "--tenant", "globex", "--code",
                    "MQTT_MESSAGE_LOST", "--limit", "4", "--json"]
            if cursor:
                args += ["--cursor", cursor]
            rc, out, err = run(*args)
            self.assertEqual(rc, 0, err)
            page = json.loads(out)
            total = page["total_matched"]
            seen += [(r["source_node_id"], r["monotonic_seq"]) for r in page["rows"]]
            for r in page["rows"]:
                self.assertEqual(r["tenant_id"], "globex")
                self.assertEqual(r["chain"]["status"], "verified")
                self.assertRegex(r["hash"], "^[0-9a-f]{64}$")
            pages += 1
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(len(seen), total)
        self.assertEqual(len(set(seen)), total)
        self.assertGreater(pages, 2)

    def test_query_streams_carry_seq_and_digest(self):
        rc, out, err = run("query", "api", "--store", self.dsn(), "--request-id", "3a7b1c9e4d20",
                           "--status", "502", "--json")
        self.assertEqual(rc, 0, err)
        page = json.loads(out)
        self.assertEqual(page["count"], 3)
        for r in page["rows"]:
            self.assertEqual(r["payload"]["status"], 502)
            self.assertRegex(r["digest"], "^[0-9a-f]{64}$")
            self.assertEqual(r["digest_kind"], "content-addressed, not chained")
        rc, out, _ = run("query", "sys", "--store", self.dsn(), "--event", "mqtt_message_dropped",
                         "--tenant", "acme", "--json")
        self.assertEqual(json.loads(out)["count"], 0)
        rc, out, _ = run("query", "sys", "--store", self.dsn(), "--level", "error",
                         "--since", "2026-11-20T14:32:00Z", "--until", "2026-11-20T14:33:00Z")
        self.assertEqual(rc, 0)
        self.assertIn("stripe_webhook_failed", out)

    def test_query_says_so_when_nothing_matches(self):
        rc, out, _ = run("query", "audit", "--store", self.dsn(), "--request-id", "nope")
        self.assertEqual(rc, 0)
        self.assertIn("no audit rows match", out)

    def test_trace_puts_three_streams_on_one_timeline(self):
        rc, out, err = run("trace", "3a7b1c9e4d20", "--store", self.dsn(), "--json")
        self.assertEqual(rc, 0, err)
        t = json.loads(out)
        self.assertEqual(t["counts"], {"audit": 2, "api": 4, "sys": 5})
        times = [e["t"] for e in t["timeline"]]
        self.assertEqual(times, sorted(times))
        codes = [e["row"].get("code") for e in t["timeline"] if e["stream"] == "audit"]
        self.assertEqual(codes, ["REFUND_REQUESTED", "REFUND_ROLLED_BACK"])
        rc, out, _ = run("trace", "3a7b1c9e4d20", "--store", self.dsn(), "--tenant", "globex",
                         "--json")
        self.assertEqual(json.loads(out)["timeline"], [])
        rc, out, _ = run("trace", "3a7b1c9e4d20", "--store", self.dsn(self.tampered))
        self.assertIn("hash mismatch", out)

    def test_trace_and_query_take_a_unique_request_id_prefix(self):
        # Issue 16: six or more characters that begin exactly one request id resolve to it.
        rc, exact, err = run("trace", "3a7b1c9e4d20", "--store", self.dsn())
        self.assertEqual(rc, 0, err)
        rc, out, err = run("trace", "3a7b1c", "--store", self.dsn())
        self.assertEqual(rc, 0, err)
        first, rest = out.split("\n", 1)
        self.assertEqual(first, "request id 3a7b1c resolved to 3a7b1c9e4d20")
        self.assertEqual(rest, exact)
        self.assertIn("REFUND_ROLLED_BACK", rest)
        rc, out, err = run("trace", "3a7b1c", "--store", self.dsn(), "--json")
        t = json.loads(out)
        self.assertEqual((t["request_id"], t["request_id_resolved_from"]),
                         ("3a7b1c9e4d20", "3a7b1c"))
        self.assertEqual(t["counts"], {"audit": 2, "api": 4, "sys": 5})
        rc, out, err = run("query", "audit", "--store", self.dsn(), "--request-id", "3a7b1c9e",
                           "--json")
        self.assertEqual(rc, 0, err)
        page = json.loads(out)
        self.assertEqual(page["request_id_resolved_from"], "3a7b1c9e")
        self.assertEqual({r["request_id"] for r in page["rows"]}, {"3a7b1c9e4d20"})
        self.assertEqual(page["count"], 2)
        # Under six characters only an exact id matches.
        rc, out, err = run("trace", "3a7b1", "--store", self.dsn())
        self.assertEqual(rc, 0, err)
        self.assertIn("no rows for request 3a7b1", out)

    def test_an_ambiguous_request_id_prefix_lists_the_candidates_of_the_tenant_only(self):
        path = os.path.join(self.tmp.name, "ambiguous-ids.db")
        with open(self.demo, "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
        con = sqlite3.connect(path)
        con.execute("INSERT INTO api_log (request_id, timestamp, service_id, method, path, status, "
                    "payload) VALUES ('3a7b1c000000', '2026-11-20T09:00:00.000000Z', 'svc', "
                    "'GET', '/x', 200, '{\"tenant_id\":\"globex\"}')")
        con.commit()
        con.close()
        rc, out, err = run("trace", "3a7b1c", "--store", self.dsn(path))
        self.assertEqual(rc, 2, out)
        self.assertIn("REQUEST_ID '3a7b1c' is a prefix of 2 request ids: 3a7b1c000000, "
                      "3a7b1c9e4d20; give the whole id or a longer prefix", err)
        rc, out, err = run("query", "api", "--store", self.dsn(path), "--request-id", "3a7b1c")
        self.assertEqual(rc, 2, out)
        self.assertIn("--request-id '3a7b1c' is a prefix of 2 request ids", err)
        # Each tenant sees only its own id: no ambiguity, and never the other's id.
        for tenant, want in (("acme", "3a7b1c9e4d20"), ("globex", "3a7b1c000000")):
            rc, out, err = run("trace", "3a7b1c", "--store", self.dsn(path), "--tenant", tenant,
                               "--json")
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out)["request_id"], want, tenant)
        rc, out, err = run("trace", "3a7b1c9", "--store", self.dsn(path), "--tenant", "globex")
        self.assertEqual(rc, 0, err)
        self.assertIn("no rows for request 3a7b1c9", out)

    def test_date_only_bounds_and_the_new_query_flags(self):
        rc, out, err = run("query", "audit", "--store", self.dsn(), "--since", "2026-11-20",
                           "--until", "2026-11-20", "--json")
        self.assertEqual(rc, 0, err)
        page = json.loads(out)
        self.assertEqual(page["window"], {"since": "2026-11-20T00:00:00.000000Z",
                                          "until": "2026-11-20T23:59:59.999999Z"})
        self.assertGreater(page["total_matched"], 0)
        rc, out, err = run("query", "audit", "--store", self.dsn(), "--limit", "3", "--json")
        top = json.loads(out)["rows"]
        rc, out, err = run("query", "audit", "--store", self.dsn(), "--limit", "1", "--offset",
                           "2", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["rows"], top[2:3])
        rc, out, err = run("query", "audit", "--store", self.dsn(), "--offset", "1", "--cursor",
                           "x")
        self.assertEqual(rc, 2)
        self.assertIn("--offset and --cursor cannot be combined", err)
        rc, out, err = run("query", "audit", "--store", self.dsn(), "--category", "payment",
                           "--actor-kind", "service", "--method", "http", "--json")
        self.assertEqual(rc, 0, err)
        rows = json.loads(out)["rows"]
        for r in rows:
            self.assertEqual((r["category"], r["actor_kind"], r["method"]),
                             ("payment", "service", "http"))
        rc, out, err = run("query", "api", "--store", self.dsn(), "--service", "checkout-api",
                           "--json")
        self.assertEqual(rc, 0, err)
        rows = json.loads(out)["rows"]
        self.assertGreater(len(rows), 0)
        self.assertEqual({r["payload"]["service_id"] for r in rows}, {"checkout-api"})

    def test_trace_prints_the_waterfall_under_the_timeline(self):
        rc, out, err = run("trace", "3a7b1c9e4d20", "--store", self.dsn())
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        head = [i for i, l in enumerate(lines) if l.startswith("waterfall (offsets from ")]
        self.assertEqual(len(head), 1, out)
        self.assertIn("2026-11-20T14:32:01.104000Z", lines[head[0]])
        self.assertTrue(any(l.startswith("counts:") for l in lines[:head[0]]), out)
        spans = [l for l in lines[head[0]:] if "|" in l and "[api #" in l]
        self.assertEqual(len(spans), 4, out)
        self.assertRegex(spans[0], r"\+0\.0 ms +38\.2 ms +\|#.*\| +POST /v1/orders/ord-88412/refunds 202")
        for i, span in enumerate(spans[1:], start=1):
            self.assertRegex(span, r"\+%d\.000 s +10\.005 s .*POST /v1/webhooks/stripe/refund 502" % (10 * i))
        # REFUND_REQUESTED is indented under the refund POST; refund_initiated is outside.
        first = lines.index(spans[0])
        self.assertRegex(lines[first + 1], r"^ {8,}\+2\.0 ms  audit REFUND_REQUESTED")
        outside = lines.index("outside every span:")
        self.assertIn("refund_initiated", lines[outside + 1])
        self.assertIn("+10.0 ms", lines[outside + 1])

    def test_serve_keeps_stdout_pure_under_concurrent_calls(self):
        # Regression: std::cin is tied to std::cout, so reading the next request flushed stdout
        # while a worker was writing a response: split lines and empty lines on stdout.
        meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}}
        lines = []
        for i in range(3000):
            name, args = [("audit_query", {"limit": 20}), ("row_get", {"monotonic_seq": 1, "hash": "e" * 64}),
                          ("sys_query", {"limit": 5})][i % 3]
            lines.append(json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                     "params": {"name": name, "arguments": args, "_meta": meta}}))
        # Lockstep, as a client does: each request arrives alone, so the server reads (and, with
        # the tie, flushed stdout) right while a worker writes the previous response.
        p = subprocess.Popen([BIN, "serve", "--store", self.dsn(), "--tenant", "acme"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, bufsize=1)
        try:
            for i, line in enumerate(lines):
                p.stdin.write(line + "\n")
                p.stdin.flush()
                reply = p.stdout.readline()
                message = json.loads(reply)  # one whole JSON-RPC message per line
                self.assertEqual(message["id"], i)
            p.stdin.close()
            self.assertEqual(p.stdout.read(), "")  # nothing left over: no stray lines
            self.assertEqual(p.wait(timeout=10), 0)
        finally:
            if p.poll() is None:
                p.kill()

    def test_ambiguous_payload_tenants_are_counted_and_shown_to_no_tenant(self):
        # Issue 12: a payload whose tenant parsers could read differently belongs to no tenant;
        # verify counts such payloads per stream and reason.
        path = os.path.join(self.tmp.name, "ambiguous.db")
        with open(self.demo, "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
        rc, out, err = run("verify", "--store", self.dsn(path), "--json", "--no-progress")
        self.assertEqual(rc, 0, err)
        clean = json.loads(out)["stream_tenants"]
        self.assertEqual(clean["sys"]["ambiguous"], 0)
        self.assertGreater(clean["sys"]["attributed"], 0)
        con = sqlite3.connect(path)
        seqs = []
        for payload in ['{"tenant_id":"acme","tenant_id":"globex","event":"x"}',
                        '{"tenant_id":"acme\\u0000globex","event":"x"}',
                        '{"tenant\\u005fid":"acme","event":"x"}']:
            cur = con.execute("INSERT INTO syslog (request_id, timestamp, level, service_id, "
                              "event, payload) VALUES ('amb', '2026-11-20T09:00:00.000000Z', "
                              "'info', 'svc', 'x', ?)", (payload,))
            seqs.append(cur.lastrowid)
        con.commit()
        con.close()
        rc, out, err = run("verify", "--store", self.dsn(path), "--json", "--no-progress")
        self.assertEqual(rc, 0, err)
        sys_t = json.loads(out)["stream_tenants"]["sys"]
        self.assertEqual(sys_t["ambiguous"], 3)
        self.assertEqual(sys_t["rows"], clean["sys"]["rows"] + 3)
        self.assertEqual(sys_t["ambiguous_by_reason"],
                         {"duplicate": 1, "control_char": 1, "escaped_key": 1})
        self.assertEqual(sorted(sys_t["ambiguous_examples"]), sorted(seqs))
        rc, out, err = run("verify", "--store", self.dsn(path), "--no-progress")
        self.assertIn("3 with an ambiguous tenant (control_char: 1, duplicate: 1, escaped_key: 1",
                      out)
        for tenant in ("acme", "globex"):
            rc, out, err = run("query", "sys", "--request-id", "amb", "--store", self.dsn(path),
                               "--tenant", tenant, "--json")
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out)["rows"], [], tenant)
        rc, out, err = run("query", "sys", "--request-id", "amb", "--store", self.dsn(path),
                           "--json")
        self.assertEqual(sorted(r["seq"] for r in json.loads(out)["rows"]), sorted(seqs))

    def test_serve_warns_about_missing_tenant_indexes_until_index_apply(self):
        path = os.path.join(self.tmp.name, "unindexed.db")
        with open(self.demo, "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
        for binding in (["--tenant", "acme"], ["--all-tenants"]):
            rc, out, err = run("serve", "--store", self.dsn(path), *binding, input="")
            self.assertEqual(rc, 0, err)
            warnings = [l for l in err.splitlines() if "tenant-leading index" in l]
            self.assertEqual(len(warnings), 1, err)
            self.assertIn("fasten-mcp index --store " + self.dsn(path) + " --apply",
                          warnings[0])
        rc, out, err = run("index", "--store", self.dsn(path), "--apply")
        self.assertEqual(rc, 0, err + out)
        rc, out, err = run("serve", "--store", self.dsn(path), "--tenant", "acme", input="")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("tenant-leading", err)
        rc, out, err = run("index", "--store", self.dsn(path), "--json")
        indexes = json.loads(out)["indexes"]
        self.assertTrue(all(i["exists"] for i in indexes), out)
        self.assertTrue(any(i["tenant_leading"] and "payload.tenant_id" in i["columns"]
                            for i in indexes if i["table"] == "syslog"), out)

    def test_trace_reports_a_missing_stream_instead_of_zero_rows(self):
        bare = os.path.join(self.tmp.name, "audit-only.db")
        con = sqlite3.connect(bare)
        src = sqlite3.connect(self.demo)
        ddl = src.execute("SELECT sql FROM sqlite_master WHERE name='audit_log'").fetchone()[0]
        con.execute(ddl)
        con.commit()
        con.close()
        src.close()
        rc, out, err = run("trace", "abc", "--store", "sqlite:///" + bare, "--json")
        self.assertEqual(rc, 0, err)
        t = json.loads(out)
        self.assertIn("api_log", t["errors"]["api"])
        self.assertIsNone(t["counts"]["sys"])
        rc, out, err = run("query", "sys", "--store", "sqlite:///" + bare)
        self.assertEqual(rc, 2)
        self.assertIn("no store", err)


class ConfigSnippets(unittest.TestCase):
    """`fasten-mcp config`: registration snippets that keep the token out and name the server."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-config-")
        cls.demo = os.path.join(cls.tmp.name, "demo.db")
        rc, out, err = run("demo", "--out", cls.demo)
        assert rc == 0, err
        # A stand-in `claude` that records the arguments the shell gave it.
        cls.bin = os.path.join(cls.tmp.name, "bin")
        os.mkdir(cls.bin)
        cls.argv_file = os.path.join(cls.tmp.name, "argv.json")
        with open(os.path.join(cls.bin, "claude"), "w") as f:
            f.write("#!%s\nimport json, sys\njson.dump(sys.argv[1:], open(%r, 'w'))\n"
                    % (PY, cls.argv_file))
        os.chmod(os.path.join(cls.bin, "claude"), 0o755)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def stdio_args(self):
        return ["--store", "sqlite:///" + self.demo, "--tenant", "acme"]

    def run_in_shell(self, command):
        """Runs a printed `claude mcp add ...` line in bash, as a user pasting it would, with
        FASTEN_TOKEN set; returns the argv `claude` received."""
        env = dict(os.environ, PATH=self.bin + os.pathsep + os.environ["PATH"],
                   FASTEN_TOKEN="fmcp_secret-value")
        p = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.argv_file) as f:
            return json.load(f)

    def test_claude_code_http_header_is_expanded_by_claude_code_not_the_shell(self):
        url = "http://127.0.0.1:8765/mcp"
        rc, out, err = run("config", "claude-code", "--url", url)
        self.assertEqual(rc, 0, err)
        self.assertIn("'Authorization: Bearer ${FASTEN_TOKEN}'", out)
        argv = self.run_in_shell(out)
        # The shell wrote no token: Claude Code expands ${FASTEN_TOKEN} when it connects.
        self.assertEqual(argv, ["mcp", "add", "--transport", "http", "fasten", url, "--header",
                                "Authorization: Bearer ${FASTEN_TOKEN}"])
        self.assertNotIn("fmcp_secret-value", json.dumps(argv))

    def test_claude_code_stdio_command_survives_the_shell(self):
        rc, out, err = run("config", "claude-code", *self.stdio_args(), "--name", "audit_2")
        self.assertEqual(rc, 0, err)
        argv = self.run_in_shell(out)
        self.assertEqual(argv[:4], ["mcp", "add", "audit_2", "--"])
        self.assertEqual(argv[5:], ["serve", "--store", "sqlite:///" + self.demo, "--tenant",
                                    "acme"])

    def test_claude_desktop_over_plain_http_to_another_host_allows_http(self):
        for url, allow in (("http://10.1.2.3:8765/mcp", True),
                           ("http://audit.example.com/mcp", True),
                           ("http://127.0.0.1:8765/mcp", False),
                           ("http://localhost:8765/mcp", False),
                           ("http://[::1]:8765/mcp", False),
                           ("https://audit.example.com/mcp", False)):
            rc, out, err = run("config", "claude-desktop", "--url", url)
            self.assertEqual(rc, 0, err)
            args = json.loads(out)["mcpServers"]["fasten"]["args"]
            self.assertEqual("--allow-http" in args, allow, url)
            self.assertEqual(args[:3], ["-y", "mcp-remote", url])
            self.assertFalse(any(" " in a for a in args))  # hosts mangle spaces in args

    def test_name_sets_the_server_name_in_every_snippet(self):
        url = "https://audit.example.com/mcp"
        for source in (self.stdio_args(), ["--url", url]):
            for host, key in (("claude-desktop", "mcpServers"), ("cursor", "mcpServers"),
                              ("vscode", "servers")):
                rc, out, err = run("config", host, *source, "--name", "fasten-prod")
                self.assertEqual(rc, 0, err)
                self.assertEqual(list(json.loads(out)[key]), ["fasten-prod"], (host, source))
                rc, out, err = run("config", host, *source)
                self.assertEqual(list(json.loads(out)[key]), ["fasten"], (host, source))
            rc, out, err = run("config", "claude-code", *source, "--name", "fasten-prod")
            self.assertEqual(rc, 0, err)
            self.assertTrue(out.startswith("claude mcp add "), out)
            self.assertIn(" fasten-prod ", out)

    def test_bad_names_are_refused_clearly(self):
        for name in ("", "two words", "a/b", "-x", "x" * 65, "caf\u00e9", "a'b"):
            rc, out, err = run("config", "cursor", *self.stdio_args(), "--name", name)
            self.assertEqual(rc, 2, name)
            self.assertIn("--name", err, name)
            self.assertNotIn("unknown option", err)
            self.assertEqual(out, "", name)


class Keygen(unittest.TestCase):
    """`fasten-mcp keygen`: an Ed25519 key pair in the C2SP signed-note formats, never
    overwritten. The key id is recomputed here with hashlib (and the key with the `cryptography`
    package when it is installed)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="fasten-keygen-")
        self.key = os.path.join(self.tmp.name, "anchor.key")

    def tearDown(self):
        self.tmp.cleanup()

    def read(self, path):
        with open(path) as f:
            return f.read()

    def test_help_exits_zero(self):
        rc, out, err = run("keygen", "--help")
        self.assertEqual(rc, 0, err)
        self.assertIn("Usage: fasten-mcp keygen --out KEY", out)
        self.assertEqual(run("help", "keygen")[:2], (0, out))
        self.assertIn("keygen", run("--help")[1])

    def test_writes_the_pair_with_its_modes_and_a_matching_key_id(self):
        rc, out, err = run("keygen", "--out", self.key, "--name", "example.com/fasten")
        self.assertEqual(rc, 0, err)
        self.assertEqual(os.stat(self.key).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(self.key + ".pub").st_mode & 0o777, 0o644)
        pub = self.read(self.key + ".pub")
        priv = self.read(self.key)
        self.assertTrue(pub.endswith("\n") and priv.endswith("\n"))
        name, kid, b64 = pub.strip().split("+", 2)  # base64 may hold "+"
        self.assertEqual(name, "example.com/fasten")
        raw = base64.b64decode(b64, validate=True)
        self.assertEqual((raw[0], len(raw)), (1, 33))
        self.assertEqual(hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex(), kid)
        # stdout: the public key line, the key id and both paths.
        self.assertEqual(out.splitlines()[0], pub.strip())
        self.assertIn(kid, out)
        self.assertIn(self.key + " ", out)
        self.assertIn(self.key + ".pub", out)
        p_prefix, p_key, p_name, p_kid, p_b64 = priv.strip().split("+", 4)
        self.assertEqual((p_prefix, p_key, p_name, p_kid), ("PRIVATE", "KEY", name, kid))
        seed = base64.b64decode(p_b64, validate=True)
        self.assertEqual((seed[0], len(seed)), (1, 33))
        self.assertNotIn(p_b64, out + err)  # the secret is never printed
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
            from cryptography.hazmat.primitives import serialization
        except ImportError:
            return
        derived = Ed25519PrivateKey.from_private_bytes(seed[1:]).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.assertEqual(derived, raw[1:])

    def test_default_name_is_fasten_mcp(self):
        rc, out, err = run("keygen", "--out", self.key)
        self.assertEqual(rc, 0, err)
        self.assertTrue(self.read(self.key + ".pub").startswith("fasten-mcp+"))

    def test_second_run_refuses_and_leaves_the_files_unchanged(self):
        rc, out, err = run("keygen", "--out", self.key)
        self.assertEqual(rc, 0, err)
        before = (self.read(self.key), self.read(self.key + ".pub"))
        rc, out, err = run("keygen", "--out", self.key)
        self.assertEqual(rc, 2, (out, err))
        self.assertIn(self.key, err)
        self.assertIn("already exists", err)
        self.assertEqual(out, "")
        self.assertEqual((self.read(self.key), self.read(self.key + ".pub")), before)
        # Only KEY.pub there: refused too, and KEY is not created.
        other = os.path.join(self.tmp.name, "other.key")
        with open(other + ".pub", "w") as f:
            f.write("keep me\n")
        rc, out, err = run("keygen", "--out", other)
        self.assertEqual(rc, 2, (out, err))
        self.assertIn(other + ".pub", err)
        self.assertFalse(os.path.exists(other))
        self.assertEqual(self.read(other + ".pub"), "keep me\n")

    def test_usage_errors_exit_two_with_a_clear_message(self):
        cases = [
            (["keygen"], "--out KEY is required"),
            (["keygen", "--out"], "needs a value"),
            (["keygen", "--out", self.key, "--name", "two words"], "not a valid key name"),
            (["keygen", "--out", self.key, "--name", "a+b"], "not a valid key name"),
            (["keygen", "--out", self.key, "--name", ""], "not a valid key name"),
            (["keygen", "--out", self.key, "--name", "x" * 257], "not a valid key name"),
            (["keygen", "--out", self.key, "--bogus"], "unknown option '--bogus'"),
            (["keygen", "--out", self.key, "extra"], "unexpected argument 'extra'"),
            (["keygen", "--out", os.path.join(self.tmp.name, "no", "dir", "k")], "cannot create"),
        ]
        for args, needle in cases:
            rc, out, err = run(*args)
            self.assertEqual(rc, 2, (args, out, err))
            self.assertIn(needle, err, args)
            self.assertEqual(out, "", args)
        self.assertEqual(os.listdir(self.tmp.name), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
