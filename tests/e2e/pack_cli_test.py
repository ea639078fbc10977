#!/usr/bin/env python3
"""End-to-end tests of `fasten-mcp pack` and `fasten-mcp verify-pack`: the real binary on a
generated demo store, with a key from `fasten-mcp keygen` and a checkpoint log from
`fasten-mcp checkpoint`.

The pack is a POSIX tar; the tests open it with Python's tarfile to find and flip bytes of the
audit.ndjson member and write the damaged copy back byte for byte.

Environment: FASTEN_MCP (binary).
"""
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest

BIN = os.environ.get("FASTEN_MCP", "build/fasten-mcp")
SINCE = "2000-01-01T00:00:00Z"
UNTIL = "2100-01-01T00:00:00Z"


def run(*args, env=None):
    full_env = dict(os.environ)
    for k in ("FASTEN_AUDIT_DSN", "FASTEN_API_DSN", "FASTEN_SYSLOG_DSN", "FASTEN_TENANT_ID"):
        full_env.pop(k, None)
    if env:
        full_env.update(env)
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=full_env, timeout=300)
    return p.returncode, p.stdout, p.stderr


def member_offset(path, name):
    """(offset of the data of member `name` in the tar file, its size)."""
    with tarfile.open(path, "r:") as tar:
        info = tar.getmember(name)
        return info.offset_data, info.size


class PackCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-pack-e2e-")
        d = cls.tmp.name
        cls.store = "sqlite:///" + os.path.join(d, "demo.db")
        cls.key = os.path.join(d, "key")
        cls.other_key = os.path.join(d, "other")
        cls.log = os.path.join(d, "checkpoints.ndjson")
        cls.pack = os.path.join(d, "acme.pack")
        rc, _, err = run("demo", "--out", os.path.join(d, "demo.db"), "--audit-rows", "2000")
        assert rc == 0, err
        for k in (cls.key, cls.other_key):
            rc, _, err = run("keygen", "--out", k)
            assert rc == 0, err
        rc, _, err = run("checkpoint", "--store", cls.store, "--key", cls.key, "--log", cls.log)
        assert rc == 0, err
        rc, out, err = run("pack", "--store", cls.store, "--tenant", "acme", "--since", SINCE,
                           "--until", UNTIL, "--checkpoints", cls.log, "--key", cls.key,
                           "--out", cls.pack, "--no-progress")
        assert rc == 0, (out, err)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def copy(self, name):
        path = os.path.join(self.tmp.name, name)
        shutil.copyfile(self.pack, path)
        return path

    def verify(self, path, *flags, key=None):
        return run("verify-pack", path, "--pubkey", (key or self.key) + ".pub", *flags)

    def test_pack_verifies(self):
        rc, out, err = self.verify(self.pack)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Result: OK", out)

    def test_json_report(self):
        rc, out, err = self.verify(self.pack, "--json")
        self.assertEqual(rc, 0, err)
        report = json.loads(out)
        self.assertIs(report["ok"], True)
        self.assertEqual(report["tenant"], "acme")
        self.assertEqual(report["findings"], [])
        self.assertGreater(report["counts"]["audit_rows"], 0)
        self.assertEqual(report["counts"]["rows_verified"] + report["counts"]["unsealed"],
                         report["counts"]["audit_rows"])
        self.assertGreaterEqual(report["checkpoints"]["verified"], 1)
        self.assertTrue(all(n["anchor_verified"] for n in report["nodes"] if n["anchored"]))

    def test_pack_json_summary(self):
        out_path = os.path.join(self.tmp.name, "summary.pack")
        rc, out, err = run("pack", "--store", self.store, "--tenant", "acme", "--since", SINCE,
                           "--until", UNTIL, "--key", self.key, "--out", out_path, "--json",
                           "--no-progress")
        self.assertEqual(rc, 0, err)
        json.loads(out)
        rc, out, err = self.verify(out_path)
        self.assertEqual(rc, 0, out + err)

    def test_flipped_byte_in_row_data_fails(self):
        offset, size = member_offset(self.pack, "audit.ndjson")
        self.assertGreater(size, 100)
        for i, at in enumerate((offset + size // 3, offset + size // 2, offset + size - 2)):
            path = self.copy("flipped-%d.pack" % i)
            with open(path, "r+b") as f:
                f.seek(at)
                b = f.read(1)
                f.seek(at)
                f.write(bytes([b[0] ^ 0x01]))
            rc, out, err = self.verify(path, "--json")
            self.assertEqual(rc, 1, out + err)
            report = json.loads(out)
            self.assertIs(report["ok"], False)
            kinds = {f["kind"] for f in report["findings"]}
            self.assertIn("member_digest", kinds)
            self.assertTrue(all(f["reason"] for f in report["findings"]))

    def test_wrong_key_fails(self):
        rc, out, err = self.verify(self.pack, "--json", key=self.other_key)
        self.assertEqual(rc, 1, out + err)
        kinds = {f["kind"] for f in json.loads(out)["findings"]}
        self.assertIn("signature", kinds)

    def test_not_a_pack_fails(self):
        path = os.path.join(self.tmp.name, "garbage.pack")
        with open(path, "wb") as f:
            f.write(b"this is not a tar file\n" * 40)
        rc, out, err = self.verify(path)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("not_a_pack", out)

    def test_missing_file_is_a_usage_error(self):
        rc, out, err = self.verify(os.path.join(self.tmp.name, "no-such.pack"))
        self.assertEqual(rc, 2, out + err)
        self.assertIn("no pack file", err)

    def test_missing_pubkey_file_is_a_usage_error(self):
        rc, out, err = run("verify-pack", self.pack, "--pubkey",
                           os.path.join(self.tmp.name, "nokey.pub"))
        self.assertEqual(rc, 2, out + err)
        self.assertIn("--pubkey", err)

    def test_verify_pack_usage_errors(self):
        rc, _, err = run("verify-pack", self.pack)
        self.assertEqual(rc, 2)
        self.assertIn("--pubkey PUB is required", err)
        rc, _, err = run("verify-pack", "--pubkey", self.key + ".pub")
        self.assertEqual(rc, 2)
        self.assertIn("name one pack file", err)
        rc, _, err = run("verify-pack", self.pack, self.pack, "--pubkey", self.key + ".pub")
        self.assertEqual(rc, 2)
        self.assertIn("name one pack file", err)

    def test_pack_usage_errors(self):
        base = ["pack", "--store", self.store, "--tenant", "acme", "--since", SINCE, "--until",
                UNTIL, "--key", self.key, "--out", os.path.join(self.tmp.name, "u.pack")]
        for flag in ("--tenant", "--since", "--until", "--key", "--out"):
            i = base.index(flag)
            args = base[:i] + base[i + 2:]
            rc, _, err = run(*args)
            self.assertEqual(rc, 2, flag)
            self.assertIn(flag + " is required", err)
        i = base.index("--since")
        swapped = base[:i] + ["--since", UNTIL, "--until", SINCE] + base[i + 4:]
        rc, _, err = run(*swapped)
        self.assertEqual(rc, 2)
        self.assertIn("swap them", err)
        rc, _, err = run(*base[:i + 1], "yesterday-ish", *base[i + 2:])
        self.assertEqual(rc, 2)
        self.assertIn("--since", err)
        rc, _, err = run(*base, "--name", "")
        self.assertEqual(rc, 2)
        self.assertIn("--name", err)
        rc, _, err = run(*base, "--state", os.path.join(self.tmp.name, "state.db"))
        self.assertEqual(rc, 2)
        self.assertIn("--state goes with --investigation", err)
        rc, _, err = run(*base, "stray")
        self.assertEqual(rc, 2)
        self.assertIn("stray", err)
        k = base.index("--key")
        rc, _, err = run(*base[:k + 1], os.path.join(self.tmp.name, "no-key"), *base[k + 2:])
        self.assertEqual(rc, 2)
        self.assertIn("--key", err)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "u.pack")))

    def test_help(self):
        for command in ("pack", "verify-pack"):
            rc, out, _ = run(command, "--help")
            self.assertEqual(rc, 0, command)
            self.assertIn("Usage: fasten-mcp " + command, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
