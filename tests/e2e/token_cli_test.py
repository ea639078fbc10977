#!/usr/bin/env python3
"""End-to-end tests of `fasten-mcp token`: the real binary managing a real tokens file.

The digests are checked with hashlib, independently of the binary's OpenSSL path.

Environment: FASTEN_MCP (binary).
"""
import hashlib
import os
import re
import stat
import subprocess
import tempfile
import threading
import unittest

BIN = os.environ.get("FASTEN_MCP", "build/fasten-mcp")


def run(*args):
    p = subprocess.run([BIN, "token", *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest()


class TokenCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="fasten-token-e2e-")
        self.file = os.path.join(self.tmp.name, "tokens")

    def tearDown(self):
        self.tmp.cleanup()

    def add(self, tenant, label=None):
        args = ["add", "--tenant", tenant, "--tokens", self.file]
        if label:
            args += ["--label", label]
        rc, out, err = run(*args)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^fmcp_[A-Za-z0-9_-]{43}\n$")
        self.assertIn("Authorization: Bearer", err)
        return out.strip()

    def records(self):
        with open(self.file) as f:
            lines = [l.split() for l in f if l.strip() and not l.startswith("#")]
        return [dict([("digest", l[0])] + [kv.split("=", 1) for kv in l[1:]]) for l in lines]

    def test_add_list_revoke(self):
        acme = self.add("acme", "ci")
        globex = self.add("globex")
        mode = stat.S_IMODE(os.stat(self.file).st_mode)
        self.assertEqual(mode, 0o600)
        with open(self.file) as f:
            text = f.read()
        self.assertNotIn(acme, text)
        self.assertNotIn(globex, text)
        recs = self.records()
        self.assertEqual([r["digest"] for r in recs], ["sha256:" + sha256(acme), "sha256:" + sha256(globex)])
        self.assertEqual([r["tenant"] for r in recs], ["acme", "globex"])
        self.assertEqual(recs[0]["label"], "ci")
        self.assertEqual(recs[1]["label"], "globex-" + sha256(globex)[:8])
        self.assertRegex(recs[0]["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

        rc, out, err = run("list", "--tokens", self.file)
        self.assertEqual(rc, 0, err)
        self.assertNotIn(acme, out)
        self.assertNotIn(sha256(acme), out)  # only a prefix
        self.assertRegex(out, r"(?m)^ci\s+acme\s+\S+Z\s+sha256:" + sha256(acme)[:12] + "$")
        self.assertIn("sha256:" + sha256(globex)[:12], out)

        rc, out, err = run("revoke", "--tokens", self.file, "--digest", sha256(acme)[:8])
        self.assertEqual(rc, 0, err)
        self.assertIn("revoked token 'ci'", out)
        self.assertEqual([r["tenant"] for r in self.records()], ["globex"])
        rc, out, err = run("revoke", "--tokens", self.file, "--label", "ci")
        self.assertEqual(rc, 2)
        self.assertIn("no token", err)
        rc, out, err = run("revoke", "--tokens", self.file, "--label", "globex-" + sha256(globex)[:8])
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.records(), [])
        self.assertEqual(stat.S_IMODE(os.stat(self.file).st_mode), 0o600)

    def test_parallel_adds_keep_every_token(self):
        tokens, lock = [], threading.Lock()

        def worker(i):
            rc, out, err = run("add", "--tenant", "t%d" % i, "--tokens", self.file)
            with lock:
                tokens.append((rc, out.strip(), err))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertTrue(all(rc == 0 for rc, _, _ in tokens), tokens)
        digests = {r["digest"] for r in self.records()}
        self.assertEqual(digests, {"sha256:" + sha256(t) for _, t, _ in tokens})

    def test_usage_errors_exit_two_and_print_no_token(self):
        for args, message in [
            ([], "name one action"),
            (["add", "--tenant", "acme"], "--tokens FILE is required"),
            (["add", "--tokens", self.file, "--tenant", "a b"], "without spaces"),
            (["list", "--tokens", self.file], "no tokens file"),
            (["revoke", "--tokens", self.file], "exactly one of"),
        ]:
            rc, out, err = run(*args)
            self.assertEqual(rc, 2, args)
            self.assertEqual(out, "", args)
            self.assertIn(message, err, args)
        self.assertFalse(os.path.exists(self.file))

    def test_help(self):
        p = subprocess.run([BIN, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"(?m)^  token ")
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("Usage: fasten-mcp token add"))
        p = subprocess.run([BIN, "help", "token"], capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout), (0, out))


if __name__ == "__main__":
    unittest.main(verbosity=2)
