#!/usr/bin/env python3
"""A local RFC 3161 time-stamping authority for offline tests. Standard library + the openssl CLI.

On start it makes a throwaway PKI in --dir (a self-signed test CA, and a TSA certificate it signs
with extendedKeyUsage critical timeStamping) and an `openssl ts` configuration, then serves on
127.0.0.1. Each POST body is a DER TimeStampReq; the reply is made by OpenSSL itself
(`openssl ts -reply`) and sent as application/timestamp-reply. The path picks a behaviour
(default: --mode):

  /tsa (any other path)  a granted reply
  /reject                a genuine rejection: the TSA accepts only SHA-512 imprints (badAlg)
  /http500               HTTP 500, no body
  /garbage               200 application/timestamp-reply with random bytes
  /wrongtype             200 text/html

Files in --dir: ca.crt ca.key tsa.crt tsa.key tsa.cnf (and the serial file).

Usage: fake_tsa.py --dir D [--port 0] [--mode tsa]
       fake_tsa.py --dir D --pki-only        (make the PKI and exit; e.g. a second, unrelated CA)
Prints "listening on http://127.0.0.1:PORT" (one flushed line) and serves until SIGTERM/SIGINT.
"""
import argparse
import http.server
import os
import signal
import subprocess
import sys
import tempfile
import threading

MODES = ("tsa", "reject", "http500", "garbage", "wrongtype")

TS_CONFIG = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.1
other_policies = 1.3.6.1.4.1.99999.1.2
digests = {digests}
accuracy = secs:1
clock_precision_digits = 0
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def make_pki(d):
    """The test CA, the TSA key and certificate, and the two ts configurations."""
    os.makedirs(d, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", f"/O=fasten tests/CN=fasten test CA {os.path.basename(d)}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    run("req", "-new", *ec, "-keyout", "tsa.key", "-out", "tsa.csr",
        "-subj", "/O=fasten tests/CN=fasten test TSA", cwd=d)
    with open(os.path.join(d, "tsa.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=critical,timeStamping\n")
    run("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "2",
        "-days", "2", "-extfile", "tsa.ext", "-out", "tsa.crt", cwd=d)
    with open(os.path.join(d, "tsaserial"), "w") as f:
        f.write("01\n")
    for name, digests in (("tsa.cnf", "sha256, sha384, sha512"), ("reject.cnf", "sha512")):
        with open(os.path.join(d, name), "w") as f:
            f.write(TS_CONFIG.format(dir=d, digests=digests))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, code, body, ctype):
        self.send_response(code)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        query = self.rfile.read(n)
        mode = self.path.strip("/").split("/")[-1] or self.server.mode
        if mode not in MODES:
            mode = self.server.mode
        if mode == "http500":
            return self.send(500, b"", None)
        if mode == "garbage":
            return self.send(200, os.urandom(300), "application/timestamp-reply")
        if mode == "wrongtype":
            return self.send(200, b"<html>hello</html>", "text/html")
        conf = "reject.cnf" if mode == "reject" else "tsa.cnf"
        with self.server.lock, tempfile.TemporaryDirectory() as tmp:
            req = os.path.join(tmp, "req.der")
            resp = os.path.join(tmp, "resp.der")
            with open(req, "wb") as f:
                f.write(query)
            d = self.server.dir
            p = subprocess.run(["openssl", "ts", "-reply", "-config", os.path.join(d, conf),
                                "-queryfile", req, "-inkey", os.path.join(d, "tsa.key"),
                                "-signer", os.path.join(d, "tsa.crt"),
                                "-chain", os.path.join(d, "ca.crt"), "-out", resp],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if p.returncode != 0 or not os.path.exists(resp):
                return self.send(500, p.stderr[-500:], "text/plain")
            with open(resp, "rb") as f:
                body = f.read()
        self.send(200, body, "application/timestamp-reply")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="where the PKI and configuration are made")
    ap.add_argument("--port", type=int, default=0, help="0 = an ephemeral port (default)")
    ap.add_argument("--mode", default="tsa", choices=MODES, help="behaviour of unnamed paths")
    ap.add_argument("--pki-only", action="store_true", help="make the PKI in --dir and exit")
    args = ap.parse_args(argv)
    d = os.path.abspath(args.dir)
    try:
        make_pki(d)
    except subprocess.CalledProcessError as e:
        print(f"fake_tsa: openssl failed: {e.stderr.decode(errors='replace')}", file=sys.stderr)
        return 1
    if args.pki_only:
        return 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.dir = d
    srv.mode = args.mode
    srv.lock = threading.Lock()  # one `openssl ts -reply` at a time (the serial file)

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening on http://127.0.0.1:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.1)
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
