#!/usr/bin/env python3
"""End-to-end tests of `fasten-mcp spend`: the real binary reading a real state database.

`spend` only reads, so the rows are written here with Python's sqlite3, using the schema that
llm/spend.cc creates (spend_meta, spend_calls). This test therefore pins that schema: a change
to it must come with a migration and a change here.

Environment: FASTEN_MCP (binary).
"""
import datetime
import hashlib
import json
import os
import sqlite3
import subprocess
import tempfile
import unittest

BIN = os.environ.get("FASTEN_MCP", "build/fasten-mcp")

# The schema of llm/spend.cc (schema_version 1).
SCHEMA = """
CREATE TABLE spend_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO spend_meta VALUES ('schema_version', '1');
CREATE TABLE spend_calls (
  id INTEGER PRIMARY KEY,
  recorded_at TEXT NOT NULL,
  tenant TEXT NOT NULL,
  day TEXT NOT NULL,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  pricing_version TEXT NOT NULL,
  usage_known INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cache_read_tokens INTEGER NOT NULL,
  cache_write_5m_tokens INTEGER NOT NULL,
  cache_write_1h_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  cost_usd REAL
);
"""

TODAY = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
PAST = "2026-11-20"


def run(*args, env=None):
    full_env = dict(os.environ)
    for k in ("FASTEN_STATE_DIR", "XDG_STATE_HOME"):
        full_env.pop(k, None)
    full_env.update(env or {})
    p = subprocess.run([BIN, "spend", *args], capture_output=True, text=True, timeout=60,
                       env=full_env)
    return p.returncode, p.stdout, p.stderr


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class SpendCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="fasten-spend-e2e-")
        self.db = os.path.join(self.tmp.name, "state.db")

    def tearDown(self):
        self.tmp.cleanup()

    def populate(self):
        con = sqlite3.connect(self.db)
        con.executescript(SCHEMA)
        rows = [
            # tenant, day, provider, model, known, in, out, cache_read, cw5m, cw1h, reasoning, cost
            ("acme", TODAY, "anthropic", "claude-sonnet-4-6", 1, 1000, 100, 2000, 300, 0, 0, 0.25),
            ("acme", TODAY, "anthropic", "claude-sonnet-4-6", 1, 3000, 200, 0, 0, 500, 0, 0.5),
            ("acme", TODAY, "anthropic", "claude-mystery-9", 1, 10, 5, 0, 0, 0, 0, None),
            ("acme", PAST, "openai", "gpt-4.1", 1, 6000, 2000, 4000, 0, 0, 700, 0.03),
            ("beta", TODAY, "ollama", "llama3.1:8b", 1, 50000, 2000, 0, 0, 0, 0, 0.0),
            ("beta", TODAY, "vllm", "qwen", 0, 0, 0, 0, 0, 0, 0, None),
        ]
        con.executemany(
            "INSERT INTO spend_calls (recorded_at, tenant, day, provider, model, pricing_version,"
            " usage_known, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,"
            " cache_write_1h_tokens, reasoning_tokens, cost_usd)"
            " VALUES ('2026-11-22T10:00:00Z', ?, ?, ?, ?, '2026-11-22', ?, ?, ?, ?, ?, ?, ?, ?)",
            rows)
        con.commit()
        con.close()

    def spend_json(self, *args, env=None):
        rc, out, err = run("--state", self.db, "--json", *args, env=env)
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def test_missing_database_is_not_an_error(self):
        rc, out, err = run("--state", self.db)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, f"no spend recorded yet (state {self.db})\n")
        self.assertFalse(os.path.exists(self.db), "spend never creates the state database")
        doc = self.spend_json()
        self.assertFalse(doc["state_exists"])
        self.assertEqual(doc["rows"], [])

    def test_default_state_path_from_the_environment(self):
        rc, out, err = run(env={"FASTEN_STATE_DIR": self.tmp.name})
        self.assertEqual(rc, 0, err)
        self.assertIn(self.db, out)
        rc, out, err = run(env={"XDG_STATE_HOME": self.tmp.name})
        self.assertIn(os.path.join(self.tmp.name, "fasten-mcp", "state.db"), out)
        rc, out, err = run(env={"HOME": self.tmp.name})
        self.assertIn(os.path.join(self.tmp.name, ".local/state/fasten-mcp/state.db"), out)
        self.populate()
        rc, out, err = run(env={"FASTEN_STATE_DIR": self.tmp.name})
        self.assertEqual(rc, 0, err)
        self.assertIn("claude-sonnet-4-6", out)

    def test_table_and_totals(self):
        self.populate()
        before = digest(self.db)
        rc, out, err = run("--state", self.db)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        sonnet = next(l for l in lines if "claude-sonnet-4-6" in l).split()
        # TENANT DAY PROVIDER MODEL CALLS INPUT OUTPUT CACHE_READ CACHE_WRITE COST_USD
        self.assertEqual(sonnet, ["acme", TODAY, "anthropic", "claude-sonnet-4-6", "2", "4000",
                                  "300", "2000", "800", "0.7500"])
        mystery = next(l for l in lines if "claude-mystery-9" in l)
        self.assertTrue(mystery.rstrip().endswith("unknown"), mystery)
        ollama = next(l for l in lines if "llama3.1:8b" in l)
        self.assertTrue(ollama.rstrip().endswith("0.0000"), "a priced free model is $0: " + ollama)
        total = next(l for l in lines if l.startswith("TOTAL")).split()
        self.assertEqual(total[1:6], ["6", "60010", "4305", "6000", "800"])
        self.assertEqual(" ".join(total[6:]), "0.7800 + 2 unknown")
        self.assertIn("2 call(s) have unknown cost", out)
        self.assertEqual(digest(self.db), before, "spend never writes the state database")

    def test_json(self):
        self.populate()
        doc = self.spend_json()
        self.assertTrue(doc["state_exists"])
        self.assertEqual(len(doc["rows"]), 5)
        by_model = {r["model"]: r for r in doc["rows"]}
        s = by_model["claude-sonnet-4-6"]
        self.assertEqual((s["calls"], s["input_tokens"], s["output_tokens"],
                          s["cache_read_tokens"], s["cache_write_tokens"]),
                         (2, 4000, 300, 2000, 800))
        self.assertAlmostEqual(s["cost_usd"], 0.75)
        self.assertEqual(s["unknown_cost_calls"], 0)
        m = by_model["claude-mystery-9"]
        self.assertIsNone(m["cost_usd"], "unknown is null, never 0")
        self.assertEqual(m["unknown_cost_calls"], 1)
        self.assertEqual(m["known_cost_usd"], 0)
        self.assertEqual(by_model["llama3.1:8b"]["cost_usd"], 0)
        t = doc["totals"]
        self.assertEqual(t["calls"], 6)
        self.assertIsNone(t["cost_usd"])
        self.assertAlmostEqual(t["known_cost_usd"], 0.78)
        self.assertEqual(t["unknown_cost_calls"], 2)

    def test_filters(self):
        self.populate()
        doc = self.spend_json("--tenant", "beta")
        self.assertEqual({r["tenant"] for r in doc["rows"]}, {"beta"})
        self.assertEqual(doc["totals"]["calls"], 2)
        doc = self.spend_json("--from", PAST, "--to", PAST)
        self.assertEqual([(r["tenant"], r["model"]) for r in doc["rows"]], [("acme", "gpt-4.1")])
        self.assertAlmostEqual(doc["totals"]["cost_usd"], 0.03)
        doc = self.spend_json("--tenant", "acme", "--from", TODAY)
        self.assertEqual({r["model"] for r in doc["rows"]}, {"claude-sonnet-4-6",
                                                              "claude-mystery-9"})
        rc, out, err = run("--state", self.db, "--tenant", "nobody")
        self.assertEqual(rc, 0, err)
        self.assertIn("no spend recorded for tenant nobody", out)

    def test_caps(self):
        self.populate()
        caps = os.path.join(self.tmp.name, "caps.json")
        with open(caps, "w") as f:
            json.dump({"default_usd": 1.0, "tenants": {"acme": 0.7, "gamma": 3}}, f)
        doc = self.spend_json("--caps", caps)
        c = doc["caps"]
        self.assertEqual(c["day"], TODAY)
        self.assertEqual(c["file"], caps)
        by_tenant = {t["tenant"]: t for t in c["tenants"]}
        self.assertEqual(set(by_tenant), {"acme", "beta", "gamma"})
        acme = by_tenant["acme"]
        self.assertEqual(acme["cap_usd"], 0.7)
        self.assertFalse(acme["cap_from_default"])
        self.assertAlmostEqual(acme["spent_usd"], 0.75)  # today only: not the PAST call
        self.assertEqual(acme["remaining_usd"], 0)
        self.assertEqual(acme["unknown_cost_calls"], 1)
        beta = by_tenant["beta"]
        self.assertEqual(beta["cap_usd"], 1.0)
        self.assertTrue(beta["cap_from_default"])
        self.assertEqual(beta["remaining_usd"], 1.0)
        self.assertEqual(by_tenant["gamma"]["spent_usd"], 0)

        rc, out, err = run("--state", self.db, "--caps", caps)
        self.assertEqual(rc, 0, err)
        self.assertIn(f"daily caps for {TODAY} (UTC), from {caps}", out)
        beta_line = next(l for l in out.splitlines() if l.startswith("beta ") and "default" in l)
        self.assertIn("1.00 (default)", beta_line)

        with open(caps, "w") as f:
            json.dump({"tenants": {"acme": 5}}, f)
        doc = self.spend_json("--caps", caps, "--tenant", "beta")
        beta = doc["caps"]["tenants"][0]
        self.assertEqual(beta["tenant"], "beta")
        self.assertIsNone(beta["cap_usd"], "no default: uncapped")
        self.assertIsNone(beta["remaining_usd"])

    def test_database_without_spend_tables(self):
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE transcripts (id INTEGER PRIMARY KEY)")
        con.commit()
        con.close()
        rc, out, err = run("--state", self.db)
        self.assertEqual(rc, 0, err)
        self.assertIn("no spend recorded", out)

    def test_usage_errors(self):
        self.populate()
        for args, needle in [
            (["--from", "2026-02-30"], "--from must be a day"),
            (["--to", "yesterday"], "--to must be a day"),
            (["--from", "2026-11-23", "--to", "2026-11-22"], "is after"),
            (["--caps", os.path.join(self.tmp.name, "nope.json")], "nope.json"),
            (["--bogus"], "unknown option '--bogus'"),
            (["extra"], "unexpected argument"),
        ]:
            rc, out, err = run("--state", self.db, *args)
            self.assertEqual(rc, 2, args)
            self.assertIn(needle, err, args)
        bad = os.path.join(self.tmp.name, "bad.db")
        with open(bad, "w") as f:
            f.write("not a database" * 100)
        rc, out, err = run("--state", bad)
        self.assertEqual(rc, 2)
        self.assertIn(bad, err)
        rc, out, err = run("--help")
        self.assertEqual(rc, 0)
        self.assertIn("Usage: fasten-mcp spend", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
