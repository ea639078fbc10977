#!/usr/bin/env python3
"""Signed checkpoints (issue 14) end to end: the real binary on a demo store.

- `fasten-mcp checkpoint` twice appends two lines to the log, and `verify --checkpoints --pubkey`
  accepts them ("anchors: OK", exit 0), but not under a key that did not sign them;
- `serve --checkpoint-log LOG --checkpoint-key KEY --checkpoint-every 1s` over stdio appends
  checkpoints while it runs, and chain_verify reports `anchors` ok, in the tenant's view (no
  anchored_seq / anchored_hash); after the newest 5 rows of core-1 are deleted behind its back,
  chain_verify says ok false with a truncated_after_checkpoint finding, and the server keeps
  answering.

The key pair comes from `fasten-mcp keygen` when the binary has it, else from the openssl CLI
(an Ed25519 key written in the signed-note formats of anchor/keys.h).

Environment: FASTEN_MCP (binary).
"""
import base64
import hashlib
import json
import os
import queue
import shutil
import sqlite3
import subprocess
import tempfile
import sys
import threading
import time
import unittest

BIN = os.environ.get("FASTEN_MCP", "build/fasten-mcp")
META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}
KEY_NAME = "e2e.example"


def clean_env():
    env = dict(os.environ)
    for k in ("FASTEN_AUDIT_DSN", "FASTEN_API_DSN", "FASTEN_SYSLOG_DSN", "FASTEN_TENANT_ID"):
        env.pop(k, None)
    return env


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=clean_env(), timeout=300)
    return p.returncode, p.stdout, p.stderr


def write_file(path, text, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def openssl_key_pair(path, name):
    """KEY (0600) and KEY.pub (0644) in the signed-note formats, from `openssl genpkey`."""
    der = path + ".der"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-outform", "DER", "-out", der],
                   check=True, capture_output=True)
    pub_der = subprocess.run(["openssl", "pkey", "-inform", "DER", "-in", der, "-pubout",
                              "-outform", "DER"], check=True, capture_output=True).stdout
    with open(der, "rb") as f:
        seed = f.read()[-32:]  # PKCS#8 ends in the 32-byte seed
    os.remove(der)
    public = pub_der[-32:]  # SubjectPublicKeyInfo ends in the 32-byte key
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).hexdigest()[:8]
    write_file(path, "PRIVATE+KEY+%s+%s+%s\n" % (
        name, key_id, base64.b64encode(b"\x01" + seed).decode()), 0o600)
    write_file(path + ".pub", "%s+%s+%s\n" % (
        name, key_id, base64.b64encode(b"\x01" + public).decode()), 0o644)


def key_pair(path, name):
    rc, out, _ = run("keygen", "--help")
    if rc == 0 and "Usage: fasten-mcp keygen" in out:
        rc, out, err = run("keygen", "--out", path, "--name", name)
        assert rc == 0, "keygen failed: " + err
    else:
        openssl_key_pair(path, name)
    return path, path + ".pub"


def log_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line for line in f.read().splitlines()]


class StdioServer:
    """`fasten-mcp serve` over stdio; call() sends one tools/call and returns its response."""

    def __init__(self, args):
        self.proc = subprocess.Popen([BIN, "serve", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=clean_env())
        self.out, self.log, self.next_id = queue.Queue(), [], 0
        self.pumps = [threading.Thread(target=f, daemon=True)
                      for f in (self._pump_out, self._pump_err)]
        for t in self.pumps:
            t.start()

    def _pump_out(self):
        for line in self.proc.stdout:
            if line.strip():
                self.out.put(json.loads(line))
        self.out.put(None)

    def _pump_err(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def call(self, tool, args, timeout=120):
        self.next_id += 1
        rid = self.next_id
        req = {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
               "params": {"name": tool, "arguments": args, "_meta": META}}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.out.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("no answer to %s within %d s; server log:\n%s" % (
                    tool, timeout, "".join(self.log)))
            if msg is None:
                raise AssertionError("the server exited (status %s) before answering %s; log:\n%s"
                                     % (self.proc.wait(), tool, "".join(self.log)))
            if msg.get("id") == rid:
                return msg

    def stop(self):
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        for t in self.pumps:
            t.join(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))


class Checkpoints(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fasten-ckpt-e2e-")
        cls.demo = os.path.join(cls.tmp.name, "demo.db")
        rc, _, err = run("demo", "--out", cls.demo)
        assert rc == 0, "fasten-mcp demo failed: " + err
        cls.key, cls.pub = key_pair(os.path.join(cls.tmp.name, "ckpt.key"), KEY_NAME)
        cls.other_key, cls.other_pub = key_pair(os.path.join(cls.tmp.name, "other.key"),
                                                "other.example")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def copy(self, name):
        path = os.path.join(self.tmp.name, name)
        for suffix in ("", "-wal"):
            if os.path.exists(self.demo + suffix):
                shutil.copyfile(self.demo + suffix, path + suffix)
        return path

    def test_checkpoint_twice_then_verify(self):
        log = os.path.join(self.tmp.name, "cli.log")
        dsn = "sqlite:///" + self.demo
        for n in (1, 2):
            rc, out, err = run("checkpoint", "--store", dsn, "--key", self.key, "--log", log)
            self.assertEqual(rc, 0, "checkpoint %d: %s" % (n, err))
            self.assertIn("checkpoint #%d appended to %s" % (n, log), out)
            self.assertEqual(len(log_lines(log)), n, "log after checkpoint %d" % n)
        for line in log_lines(log):
            entry = json.loads(line)
            self.assertIn("fasten-mcp checkpoint v1\n", entry["note"])
            self.assertIn("\n\u2014 %s " % KEY_NAME, entry["note"], "the signature line")

        rc, out, err = run("verify", "--store", dsn, "--checkpoints", log, "--pubkey", self.pub)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("anchors: OK", out)
        self.assertIn("checkpoints: 2 in " + log, out)

        # JSON: each node is anchored through the seq the second checkpoint recorded.
        rc, out, err = run("checkpoint", "--store", dsn, "--key", self.key, "--log", log,
                           "--json")
        self.assertEqual(rc, 0, err)
        tips = {n["node"]: n["seq"] for n in json.loads(out)["nodes"]}
        self.assertIn("core-1", tips)
        rc, out, err = run("verify", "--store", dsn, "--checkpoints", log, "--pubkey", self.pub,
                           "--json", "--no-progress")
        self.assertEqual(rc, 0, err)
        anchors = json.loads(out)["anchors"]
        self.assertTrue(anchors["ok"], anchors)
        self.assertEqual(anchors["checkpoints"], 3)
        got = {n["node"]: n["anchored_seq"] for n in anchors["nodes"] if n["status"] == "anchored"}
        self.assertEqual(got, tips)

        # A key that did not sign the log: every checkpoint is a finding, exit 1.
        rc, out, err = run("verify", "--store", dsn, "--checkpoints", log, "--pubkey",
                           self.other_pub)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("checkpoint_log_broken", out)
        self.assertIn("no signature by a trusted key", out)
        self.assertNotIn("anchors: OK", out)

    def test_checkpoint_with_a_local_tsa(self):
        # A local RFC 3161 TSA (tests/fakes/fake_tsa.py: a test CA made now, `openssl ts` replies).
        pki = os.path.join(self.tmp.name, "tsa")
        os.mkdir(pki)
        fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes",
                            "fake_tsa.py")
        tsa = subprocess.Popen([sys.executable, fake, "--dir", pki], stdout=subprocess.PIPE,
                               text=True)
        try:
            line = tsa.stdout.readline()
            self.assertTrue(line.startswith("listening on "), line)
            url = line.split()[-1] + "/tsa"
            store = self.copy("tsa.db")
            dsn = "sqlite:///" + store
            log = os.path.join(self.tmp.name, "tsa.log")
            for _ in range(2):
                rc, out, err = run("checkpoint", "--store", dsn, "--key", self.key, "--log", log,
                                   "--tsa", url)
                self.assertEqual(rc, 0, err)
                self.assertIn("timestamped by " + url, out)
            self.assertTrue(all("tsa_token" in json.loads(l) for l in log_lines(log)))
            ca = os.path.join(pki, "ca.crt")
            rc, out, err = run("verify", "--store", dsn, "--no-progress", "--checkpoints", log,
                               "--pubkey", self.pub, "--tsa-ca", ca)
            self.assertEqual(rc, 0, out + err)
            self.assertIn("RFC 3161 timestamps: 2/2 verify, 2 from a trusted TSA", out)
            # Without the TSA's root the tokens still verify, but are not trusted.
            rc, out, err = run("verify", "--store", dsn, "--no-progress", "--checkpoints", log,
                               "--pubkey", self.pub)
            self.assertEqual(rc, 0, out + err)
            self.assertIn("2/2 verify, 0 from a trusted TSA", out)
            # A modified token: one byte flipped in the signed TSTInfo (inside the imprint of the
            # note). Not just any byte: the token also carries copies of the certificates, whose
            # bytes a verifier holding the CA file does not use.
            lines = log_lines(log)
            entry = json.loads(lines[1])
            der = bytearray(base64.b64decode(entry["tsa_token"]))
            text = entry["note"].split("\n\n")[0] + "\n"
            at = bytes(der).find(hashlib.sha256(text.encode()).digest())
            self.assertGreater(at, 0, "the note's imprint is in the token")
            der[at + 5] ^= 0x01
            entry["tsa_token"] = base64.b64encode(bytes(der)).decode()
            bad_log = os.path.join(self.tmp.name, "tsa-bad.log")
            with open(bad_log, "w") as f:
                f.write(lines[0] + "\n" + json.dumps(entry) + "\n")
            rc, out, err = run("verify", "--store", dsn, "--no-progress", "--checkpoints", bad_log,
                               "--pubkey", self.pub, "--tsa-ca", ca)
            self.assertEqual(rc, 1, out + err)
            self.assertIn("checkpoint_log_broken", out)
            self.assertIn("RFC 3161 timestamp does not verify", out)
            # A TSA that refuses: nothing is appended, exit 2 with the reason.
            before = log_lines(log)
            rc, out, err = run("checkpoint", "--store", dsn, "--key", self.key, "--log", log,
                               "--tsa", line.split()[-1] + "/http500")
            self.assertEqual(rc, 2, out + err)
            self.assertIn("HTTP 500", err)
            self.assertEqual(log_lines(log), before)
        finally:
            tsa.terminate()
            tsa.wait(timeout=10)
            tsa.stdout.close()

    def checkpointed_answer(self, name, answer_text=None, integrity=None):
        """A checkpointed copy of the demo store and an answer citing acme's newest sealed row
        on core-1: (store path, DSN, checkpoint log, answer file)."""
        store = self.copy(name + ".db")
        dsn = "sqlite:///" + store
        log = os.path.join(self.tmp.name, name + ".log")
        rc, _, err = run("checkpoint", "--store", dsn, "--key", self.key, "--log", log)
        self.assertEqual(rc, 0, err)
        db = sqlite3.connect(store)
        seq, h, code, req = db.execute(
            "SELECT monotonic_seq, hash, code, request_id FROM audit_log WHERE tenant_id = 'acme'"
            " AND hash <> '' AND source_node_id = 'core-1' ORDER BY monotonic_seq DESC"
            " LIMIT 1").fetchone()
        db.close()
        claim = {"text": "Request %s recorded %s" % (req, code),
                 "citations": [{"stream": "audit", "seq": seq, "hash": h}]}
        if integrity:
            claim["integrity"] = integrity
        body = {"claims": [claim]}
        if answer_text:
            body["answer"] = answer_text
        answer = os.path.join(self.tmp.name, name + "-answer.json")
        with open(answer, "w") as f:
            json.dump(body, f)
        return store, dsn, log, answer

    def change_core1_tip(self, store):
        """Changes the hash of core-1's newest sealed row (nothing re-sealed)."""
        db = sqlite3.connect(store)
        tip = db.execute("SELECT max(monotonic_seq) FROM audit_log WHERE source_node_id = "
                         "'core-1' AND hash <> ''").fetchone()[0]
        db.execute("UPDATE audit_log SET hash = '00' || substr(hash, 3) WHERE source_node_id = "
                   "'core-1' AND monotonic_seq = ?", (tip,))
        db.commit()
        db.close()

    def test_validate_says_anchored_from_the_checkpoints(self):
        store, dsn, log, answer = self.checkpointed_answer("verdict")
        rc, out, err = run("validate", answer, "--store", dsn, "--tenant", "acme")
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("anchored", out)
        rc, out, err = run("validate", answer, "--store", dsn, "--tenant", "acme",
                           "--checkpoints", log, "--pubkey", self.pub)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("· anchored (checkpoint #1, ", out)
        # Re-seal nothing, just change the checkpointed tip's hash: the rows between the window
        # and the checkpoint no longer verify, so core-1 is not anchored (never "anchored").
        self.change_core1_tip(store)
        rc, out, err = run("validate", answer, "--store", dsn, "--tenant", "acme",
                           "--checkpoints", log, "--pubkey", self.pub, "--json")
        verdict = json.loads(out)
        doctor = json.dumps(verdict)
        self.assertIn("not anchored on core-1", doctor)

    def test_an_answer_saying_anchored_needs_the_checkpoints(self):
        # "The audit chain is anchored" in the answer text is backed only by the checkpoints:
        # an intact claim over the same rows is not enough.
        store, dsn, log, answer = self.checkpointed_answer(
            "anchored-words", answer_text="The audit chain is anchored.", integrity="intact")
        rc, out, err = run("validate", answer, "--store", dsn, "--tenant", "acme",
                           "--checkpoints", log, "--pubkey", self.pub)
        self.assertEqual(rc, 0, out + err)
        # Without the checkpoints nothing backs the word.
        rc, out, err = run("validate", answer, "--store", dsn, "--tenant", "acme", "--json")
        self.assertEqual(rc, 1, out + err)
        verdict = json.loads(out)
        self.assertFalse(verdict["accepted"])
        self.assertIn("no checkpoint log was given", json.dumps(verdict))
        # A node that is no longer anchored (its checkpointed tip changed) rejects it too.
        self.change_core1_tip(store)
        rc, out, err = run("validate", answer, "--store", dsn, "--tenant", "acme",
                           "--checkpoints", log, "--pubkey", self.pub, "--json")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("(anchored), but fasten's checkpoints do not back it", out)

    def test_serve_checkpoints_and_chain_verify_sees_truncation(self):
        store = self.copy("served.db")
        log = os.path.join(self.tmp.name, "served.log")
        server = StdioServer(["--store", "sqlite:///" + store, "--tenant", "acme",
                              "--checkpoint-log", log, "--checkpoint-key", self.key,
                              "--checkpoint-every", "1s"])
        try:
            wait_for(lambda: len(log_lines(log)) >= 2, 30,
                     "two checkpoints in %s; server log:\n%s" % (log, "".join(server.log)))
            self.assertTrue(any("checkpoint #1 appended to " + log in l for l in server.log),
                            "".join(server.log))

            resp = server.call("chain_verify", {})
            result = resp.get("result")
            self.assertIsNotNone(result, resp)
            self.assertFalse(result.get("isError"), result)
            sc = result["structuredContent"]
            self.assertTrue(sc["ok"], sc)
            anchors = sc["anchors"]
            self.assertTrue(anchors["ok"], anchors)
            self.assertGreaterEqual(anchors["checkpoints"], 2)
            self.assertEqual(anchors["findings"], [])
            self.assertTrue(anchors["nodes"], anchors)
            for n in anchors["nodes"]:
                self.assertNotIn("anchored_hash", n, "tenant view shows a hash: %s" % n)
                self.assertNotIn("anchored_seq", n, "tenant view shows a seq: %s" % n)
            self.assertIn("core-1", [n["node"] for n in anchors["nodes"]],
                          "acme has rows on core-1")

            # Truncate core-1 behind the server's back: its newest 5 rows go.
            db = sqlite3.connect(store, timeout=30)
            with db:
                cur = db.execute(
                    "DELETE FROM audit_log WHERE rowid IN (SELECT rowid FROM audit_log WHERE "
                    "source_node_id = 'core-1' ORDER BY monotonic_seq DESC LIMIT 5)")
                self.assertEqual(cur.rowcount, 5)
            db.close()

            resp = server.call("chain_verify", {})
            result = resp.get("result")
            self.assertIsNotNone(result, resp)
            sc = result["structuredContent"]
            self.assertFalse(sc["ok"], "chain_verify still says ok after truncation: %s" % sc)
            anchors = sc["anchors"]
            self.assertFalse(anchors["ok"], anchors)
            kinds = [(f["kind"], f.get("node")) for f in anchors["findings"]]
            self.assertIn(("truncated_after_checkpoint", "core-1"), kinds, anchors)
            for f in anchors["findings"]:
                self.assertNotIn("seq", f, "tenant view shows a seq: %s" % f)
            for n in anchors["nodes"]:
                self.assertNotIn("anchored_hash", n)
                self.assertNotIn("anchored_seq", n)

            # The periodic checkpointer notices too, and keeps going.
            wait_for(lambda: any("gone or changed" in l for l in server.log), 30,
                     "the checkpointer's warning; server log:\n" + "".join(server.log))

            # The server keeps answering.
            resp = server.call("topology", {})
            self.assertIn("result", resp, resp)
            self.assertFalse(resp["result"].get("isError"), resp)
            resp = server.call("chain_verify", {})
            self.assertFalse(resp["result"]["structuredContent"]["ok"])
        finally:
            rc = server.stop()
        self.assertEqual(rc, 0, "".join(server.log))

        # The log the server wrote verifies (it is intact) but the store no longer matches it.
        rc, out, err = run("verify", "--store", "sqlite:///" + store, "--checkpoints", log,
                           "--pubkey", self.pub, "--no-streams")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("truncated_after_checkpoint", out)
        self.assertNotIn("checkpoint_log_broken", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
