#!/usr/bin/env python3
"""End-to-end tests of `fasten-mcp validate`: the real binary on generated demo stores.

Citations are taken from `fasten-mcp query --json` (the spelling every tool reports); the api
row's content digest is re-derived independently with json.dumps + hashlib.

Environment: FASTEN_MCP (binary).
"""
import hashlib
import json
import os
import subprocess
import tempfile
import unittest

BIN = os.environ.get("FASTEN_MCP", "build/fasten-mcp")


def run(*args, input=None, env=None):
    full_env = dict(os.environ)
    for k in ("FASTEN_AUDIT_DSN", "FASTEN_API_DSN", "FASTEN_SYSLOG_DSN", "FASTEN_TENANT_ID"):
        full_env.pop(k, None)
    if env:
        full_env.update(env)
    p = subprocess.run([BIN, *args], input=input, capture_output=True, text=True, env=full_env,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


class ValidateCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-validate-e2e-")
        cls.demo = os.path.join(cls.tmp.name, "demo.db")
        cls.tampered = os.path.join(cls.tmp.name, "tampered.db")
        for path, extra in ((cls.demo, []), (cls.tampered, ["--tamper"])):
            rc, _, err = run("demo", "--out", path, *extra)
            assert rc == 0, err
        cls.rolled = cls.query(cls.demo, "audit", "--request-id", "3a7b1c9e4d20", "--code",
                               "REFUND_ROLLED_BACK")[0]
        cls.webhook = cls.query(cls.demo, "api", "--request-id", "3a7b1c9e4d20", "--status",
                                "502")[-1]
        cls.globex = cls.query(cls.demo, "audit", "--tenant", "globex", "--code",
                               "CONFIG_NODE_UPDATED")[0]
        cls.rolled_tampered = cls.query(cls.tampered, "audit", "--request-id", "3a7b1c9e4d20",
                                        "--code", "REFUND_ROLLED_BACK")[0]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def query(path, stream, *filters):
        rc, out, err = run("query", stream, "--store", "sqlite:///" + path, "--json", *filters)
        assert rc == 0, err
        rows = json.loads(out)["rows"]
        assert rows, (stream, filters)
        return rows

    def answer_file(self, claims):
        fd, path = tempfile.mkstemp(suffix=".json", dir=self.tmp.name)
        with os.fdopen(fd, "w") as f:
            json.dump({"answer": "prose", "claims": claims, "unknowns": []}, f)
        return path

    @staticmethod
    def audit(row):
        return {"stream": "audit", "seq": row["monotonic_seq"], "hash": row["hash"]}

    @staticmethod
    def api(row):
        return {"stream": "api", "seq": row["seq"], "hash": row["digest"]}

    def validate(self, claims, *flags, store=None):
        path = self.answer_file(claims)
        return run("validate", path, "--store", "sqlite:///" + (store or self.demo), *flags)

    def good_claims(self):
        return [
            {"text": "Refund request 3a7b1c9e4d20 was rolled back (REFUND_ROLLED_BACK) after "
                     "Stripe returned HTTP 502.",
             "citations": [self.audit(self.rolled)]},
            {"text": "POST /v1/webhooks/stripe/refund answered 502 at 14:32 UTC.",
             "citations": [self.api(self.webhook)]},
        ]

    def test_the_digest_the_tools_report_is_the_canonical_payload_sha256(self):
        payload = {k: v for k, v in self.webhook["payload"].items()}
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        self.assertEqual(hashlib.sha256(canonical.encode()).hexdigest(), self.webhook["digest"])

    def test_a_correct_answer_is_accepted(self):
        rc, out, err = self.validate(self.good_claims(), "--tenant", "acme")
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(out.startswith("ACCEPTED: 2/2 claims, 2/2 citations ok"), out)
        rc, out, _ = self.validate(self.good_claims(), "--tenant", "acme", "--json")
        self.assertEqual(rc, 0)
        v = json.loads(out)
        self.assertTrue(v["accepted"])
        self.assertEqual(v["summary"]["rejections"], {})
        self.assertNotIn("repair", v)
        # Stdin and FASTEN_TENANT_ID work too.
        with open(self.answer_file(self.good_claims())) as f:
            body = f.read()
        rc, out, err = run("validate", "-", "--store", "sqlite:///" + self.demo, input=body,
                           env={"FASTEN_TENANT_ID": "acme"})
        self.assertEqual(rc, 0, err)

    def test_each_wrong_answer_is_rejected_with_its_reason(self):
        fake = dict(self.audit(self.rolled), hash="d" * 64)
        cases = [
            ([{"text": "Rolled back.", "citations": [fake]}], "not_found"),
            ([{"text": "Rolled back.", "citations": [self.audit(self.globex)]}], "not_found"),
            ([{"text": "A bad deploy caused it.", "citations": []}], "uncited"),
            ([{"text": "Stripe returned HTTP 503.", "citations": [self.api(self.webhook)]}],
             "ungrounded"),
        ]
        for claims, reason in cases:
            rc, out, err = self.validate(claims, "--tenant", "acme", "--json")
            self.assertEqual(rc, 1, (reason, out, err))
            v = json.loads(out)
            self.assertFalse(v["accepted"])
            self.assertEqual(list(v["summary"]["rejections"]), [reason], out)
            self.assertIn(reason, v["repair"])
        rc, out, _ = self.validate(cases[3][0], "--tenant", "acme")
        self.assertEqual(rc, 1)
        self.assertIn('ungrounded: value "503" (status code) not in cited rows', out)

    def test_another_tenants_row_is_indistinguishable_from_a_missing_one(self):
        rc, out, _ = self.validate([{"text": "x", "citations": [self.audit(self.globex)]}],
                                   "--tenant", "acme", "--json")
        self.assertEqual(rc, 1)
        self.assertNotIn("globex", out)
        self.assertNotIn("CONFIG_NODE_UPDATED", out)
        self.assertNotIn('"row"', out)
        rc, out, err = self.validate([{"text": "CONFIG_NODE_UPDATED was written.",
                                       "citations": [self.audit(self.globex)]}], "--all-tenants")
        self.assertEqual(rc, 0, out + err)

    def test_a_tampered_row_does_not_recompute(self):
        claims = [{"text": "Refund 3a7b1c9e4d20 was rolled back.",
                   "citations": [self.audit(self.rolled_tampered)]}]
        rc, out, _ = self.validate(claims, "--tenant", "acme", "--json", store=self.tampered)
        self.assertEqual(rc, 1)
        self.assertEqual(json.loads(out)["summary"]["rejections"], {"hash_mismatch": 1})

    def test_usage_and_input_errors_exit_two(self):
        good = self.answer_file(self.good_claims())
        bad_json = os.path.join(self.tmp.name, "bad.json")
        with open(bad_json, "w") as f:
            f.write("{not json")
        stray = self.answer_file([{"text": "x", "citations": [], "kind": "fact"}])
        store = "sqlite:///" + self.demo
        cases = [
            (["validate", good, "--store", store], "--tenant"),
            (["validate", good, "--store", store, "--tenant", "acme", "--all-tenants"],
             "not both"),
            (["validate", "--store", store, "--tenant", "acme"], "ANSWER.json"),
            (["validate", "/nonexistent.json", "--store", store, "--tenant", "acme"],
             "cannot read"),
            (["validate", bad_json, "--store", store, "--tenant", "acme"], "not valid JSON"),
            (["validate", stray, "--store", store, "--tenant", "acme"], "unknown member"),
            (["validate", good, "--store", "sqlite:////nonexistent.db", "--tenant", "acme"], ""),
        ]
        for args, needle in cases:
            rc, out, err = run(*args)
            self.assertEqual(rc, 2, (args, out, err))
            self.assertIn(needle, err, args)

    def test_help_documents_the_answer_format(self):
        rc, out, _ = run("validate", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("Usage: fasten-mcp validate", out)
        self.assertIn('"claims"', out)
        rc, out, _ = run("--help")
        self.assertIn("validate", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
