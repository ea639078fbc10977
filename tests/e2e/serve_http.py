"""`fasten-mcp serve --http` on a free loopback port, for the e2e tests."""
import http.client
import json
import re
import signal
import subprocess
import threading


class ServeHttp:
    """Starts `BINARY serve --http 127.0.0.1:0 ARGS` and waits until it listens (.port). Its
    stderr is collected in .log; stop() sends SIGTERM and returns the exit status."""

    def __init__(self, binary, args, env):
        self.proc = subprocess.Popen([binary, "serve", "--http", "127.0.0.1:0", *args],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                     env=env)
        self.log, port, ready = [], [], threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r"serving MCP on http://127\.0\.0\.1:(\d+)/mcp", line)
                if m:
                    port.append(int(m.group(1)))
                    ready.set()
            ready.set()
        threading.Thread(target=pump, daemon=True).start()
        ready.wait(30)
        self.port = port[0] if port else None

    def request(self, method, path, token, body=None, accept="application/json", timeout=120):
        """One request; returns (status, Content-Type, body text)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Authorization": "Bearer " + token, "Accept": accept}
        if body is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=None if body is None else json.dumps(body), headers=h)
        r = c.getresponse()
        data = r.read().decode()
        c.close()
        return r.status, r.getheader("Content-Type"), data

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()
        return self.proc.returncode
