#!/usr/bin/env python3
"""ctest driver (reader_emulation_e2e): writes a demo store with the built `fasten-mcp demo`,
starts the reader emulation in several configurations (Go and Python flavours, both cursor
directions, bearer token, tenant scopes, in-memory rings, no audit store, injected failures) and
runs check_reader.py against each; then proves the client can fail (a wrong cursor direction,
a wrong flavor, a wrong tenant expectation must each give exit status 1).

Environment: FASTEN_MCP (the binary), PYTHON (optional; default this interpreter).
Every child process is stopped in a finally block; every request and child run has a timeout.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
EMU = os.path.join(HERE, "reader_emulation.py")
CHECK = os.path.join(HERE, "check_reader.py")
BIN = os.environ.get("FASTEN_MCP", "build/fasten-mcp")
PY = os.environ.get("PYTHON") or sys.executable
PREFIX = "/api/v1/logs"


class Emulation:
    def __init__(self, *args):
        self.proc = subprocess.Popen([PY, EMU, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        line = ""
        try:
            # readline blocks; the process prints the line right after loading the store
            while time.time() < deadline:
                line = self.proc.stdout.readline()
                if line.startswith("listening ") or not line:
                    break
            if not line.startswith("listening "):
                raise RuntimeError("emulation did not start: %r %s" % (line, self.proc.stderr.read()))
        except BaseException:
            self.stop()
            raise
        self.base = "http://%s%s" % (line.split()[1], PREFIX)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def check(base, *args):
    p = subprocess.run([PY, CHECK, "--base", base, *args], capture_output=True, text=True,
                       timeout=600)
    return p.returncode, p.stdout + p.stderr


def write_rings(db, tmp):
    """The demo's sys and api tables as NDJSON lines (the §7.3 shapes of the reader docs)."""
    con = sqlite3.connect(db)
    paths = {}
    for name, table in (("sys", "syslog"), ("api", "api_log")):
        path = os.path.join(tmp, name + ".ndjson")
        with open(path, "w", encoding="utf-8") as f:
            for (payload,) in con.execute("SELECT payload FROM %s ORDER BY seq" % table):
                obj = json.loads(payload)
                f.write(json.dumps(dict({"shape": name}, **obj)) + "\n")
        paths[name] = path
    con.close()
    return paths


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="fasten-reader-e2e-") as tmp:
        db = os.path.join(tmp, "demo.db")
        p = subprocess.run([BIN, "demo", "--out", db, "--audit-rows", "3000"], capture_output=True,
                           text=True, timeout=300)
        if p.returncode != 0:
            print("FAIL: fasten-mcp demo:", p.stderr)
            return 1
        rings = write_rings(db, tmp)
        streams = ["--sys-db", db, "--api-db", db]

        # (name, emulation args, client args, expected exit status)
        runs = [
            ("python flavor, older cursor",
             ["--audit-db", db, *streams, "--flavor", "python"],
             ["--audit-db", db, "--flavor", "python", "--cursor", "older"], 0),
            ("go flavor, newer cursor",
             ["--audit-db", db, *streams, "--flavor", "go"],
             ["--audit-db", db, "--flavor", "go", "--cursor", "newer"], 0),
            ("go flavor forced to the older cursor, one node, doctor chain",
             ["--audit-db", db, *streams, "--flavor", "go", "--cursor", "older", "--node", "edge-eu-1"],
             ["--audit-db", db, "--flavor", "go", "--cursor", "older", "--node", "edge-eu-1"], 0),
            ("python, unsealed node (doctor nulls)",
             ["--audit-db", db, *streams, "--node", "mqtt-bridge-1"],
             ["--audit-db", db, "--node", "mqtt-bridge-1"], 0),
            ("python, bearer token + tenant header scope",
             ["--audit-db", db, *streams, "--token", "s3cret", "--tenant-header", "X-Tenant"],
             ["--audit-db", db, "--token", "s3cret", "--tenant-header", "X-Tenant",
              "--tenant", "acme", "--foreign-tenant", "globex"], 0),
            ("go, tenant scope from bearer tokens",
             ["--audit-db", db, *streams, "--flavor", "go", "--tenant-token", "tok-g=globex",
              "--tenant-token", "tok-a=acme"],
             ["--audit-db", db, "--flavor", "go", "--cursor", "newer", "--token", "tok-g",
              "--tenant", "globex", "--foreign-tenant", "acme"], 0),
            ("python, in-memory rings",
             ["--audit-db", db, "--sys-ring", rings["sys"], "--api-ring", rings["api"]],
             ["--audit-db", db, "--sys-ring", rings["sys"], "--api-ring", rings["api"]], 0),
            ("no audit store (soft error)",
             ["--no-audit-store"], ["--expect-no-audit-store"], 0),
            # negative: the client must notice each of these
            ("NEGATIVE: client expects older, server pages newer",
             ["--audit-db", db, *streams, "--flavor", "python", "--cursor", "newer"],
             ["--audit-db", db, "--cursor", "older"], 1),
            ("NEGATIVE: client expects newer, server pages older",
             ["--audit-db", db, *streams, "--flavor", "go", "--cursor", "older"],
             ["--audit-db", db, "--cursor", "newer"], 1),
            ("NEGATIVE: go checks against the python flavor",
             ["--audit-db", db, *streams, "--flavor", "python"],
             ["--audit-db", db, "--flavor", "go", "--cursor", "older"], 1),
            ("NEGATIVE: foreign tenant expected 403, server ignores it",
             ["--audit-db", db, *streams, "--tenant-header", "X-Tenant"],
             ["--audit-db", db, "--tenant-header", "X-Tenant", "--tenant", "acme",
              "--foreign-tenant-status", "403"], 1),
            ("NEGATIVE: expectations for the wrong node",
             ["--audit-db", db, *streams, "--node", "core-1"],
             ["--audit-db", db, "--node", "edge-us-1"], 1),
        ]
        for name, emu_args, client_args, want in runs:
            t0 = time.time()
            try:
                with Emulation(*emu_args) as emu:
                    rc, out = check(emu.base, *client_args)
            except Exception as e:  # noqa: BLE001
                rc, out = None, "error: %s" % e
            ok = rc == want
            print("%s %-62s exit %s (want %d) %.1fs" % ("ok  " if ok else "FAIL", name, rc, want,
                                                       time.time() - t0))
            if not ok:
                failures.append(name)
                print(out)
            elif want == 1:
                # show the first failing checks of a negative run, so the reason is visible
                for ln in [ln for ln in out.splitlines() if ln.startswith("FAIL")][:3]:
                    print("      " + ln[:300])

        # --fail-after: the N+1st request gets a plain-text 500
        try:
            with Emulation("--audit-db", db, "--fail-after", "2") as emu:
                codes = []
                for _ in range(3):
                    try:
                        with urllib.request.urlopen(emu.base + "/audit?limit=1", timeout=30) as r:
                            codes.append((r.status, r.headers.get("Content-Type")))
                    except urllib.error.HTTPError as e:
                        codes.append((e.code, e.headers.get("Content-Type")))
            ok = [c[0] for c in codes] == [200, 200, 500] and codes[2][1].startswith("text/plain")
        except Exception as e:  # noqa: BLE001
            ok, codes = False, str(e)
        print("%s --fail-after 2 gives 200, 200, 500 text/plain: %s" % ("ok  " if ok else "FAIL", codes))
        if not ok:
            failures.append("--fail-after")

        # /audit/doctor on a copy whose row 5 below edge-us-1's tip was edited: the latest-50
        # check must report that row, and the client (which recomputes the verdict) still passes
        tampered = os.path.join(tmp, "tampered.db")
        shutil.copyfile(db, tampered)
        con = sqlite3.connect(tampered)
        rid, seq = con.execute(
            "SELECT id, monotonic_seq FROM audit_log WHERE source_node_id = 'edge-us-1' "
            "ORDER BY monotonic_seq DESC LIMIT 1 OFFSET 5").fetchone()
        con.execute("UPDATE audit_log SET detail = '{\"tampered\": true}' WHERE id = ?", (rid,))
        con.commit()
        con.close()
        try:
            for flavor in ("python", "go"):
                with Emulation("--audit-db", tampered, "--sys-db", tampered, "--api-db", tampered,
                               "--node", "edge-us-1", "--flavor", flavor) as emu:
                    with urllib.request.urlopen(emu.base + "/audit/doctor", timeout=30) as r:
                        chain = json.loads(r.read())["chain"]
                    rc, out = check(emu.base, "--audit-db", tampered, "--node", "edge-us-1",
                                    "--flavor", flavor, "--cursor",
                                    "older" if flavor == "python" else "newer")
                ok = (chain["breaks"] == 1 and chain["first_break_at"] == seq and
                      chain["reason"] == "row %s: hash mismatch" % rid and chain["verified"] == 44
                      and rc == 0)
                print("%s doctor (%s) reports the edited row %s at seq %d: %s, client exit %d"
                      % ("ok  " if ok else "FAIL", flavor, rid, seq, chain, rc))
                if not ok:
                    failures.append("doctor on a tampered store (%s)" % flavor)
                    print(out)
        except Exception as e:  # noqa: BLE001
            print("FAIL doctor on a tampered store: %s" % e)
            failures.append("doctor on a tampered store")

        # the emulation's hash forms against the chain vectors
        vectors = os.path.join(HERE, "..", "vectors", "chain-vectors.json")
        p = subprocess.run([PY, os.path.join(HERE, "fasten_rows.py"), vectors], capture_output=True,
                           text=True, timeout=120)
        print("%s chain vectors self-test: %s" % ("ok  " if p.returncode == 0 else "FAIL", p.stdout.strip()))
        if p.returncode != 0:
            failures.append("vectors")

    print("reader_emulation_e2e: %s" % ("all passed" if not failures else "FAILED: %s" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
