#!/usr/bin/env node
// A transparent loopback HTTP proxy that adds `Authorization: Bearer $BEARER` to every request.
// The conformance CLI cannot send headers, so conformance.sh points it at this proxy when the
// server under test wants a bearer token. Everything else passes through untouched, both ways:
// method, path, query, headers (Host and Origin included, so the server still judges them),
// request body, status, response headers, and streamed (SSE) response bodies. A client that
// goes away aborts the upstream request (cancellation by stream close keeps working).
//
// usage: BEARER=<token> node bearer-proxy.mjs <upstream origin, e.g. http://127.0.0.1:8765> [listen port, default 0]
// Prints "listening <port>" on stdout once ready; runs until SIGTERM/SIGINT.

import http from 'node:http';

const [target, portArg] = process.argv.slice(2);
if (!target || !process.env.BEARER) {
  console.error('usage: BEARER=<token> node bearer-proxy.mjs <upstream origin> [listen port]');
  process.exit(2);
}
const up = new URL(target);
const agent = new http.Agent({ keepAlive: true });

const server = http.createServer((req, res) => {
  const headers = { ...req.headers, authorization: `Bearer ${process.env.BEARER}` };
  const upReq = http.request({
    host: up.hostname, port: up.port || 80, method: req.method, path: req.url, headers, agent,
  }, (upRes) => {
    res.writeHead(upRes.statusCode, upRes.statusMessage, upRes.rawHeaders);
    res.flushHeaders();
    upRes.pipe(res);
  });
  upReq.on('error', (e) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bearer-proxy: upstream error: ${e.message}\n`);
    } else {
      res.destroy();
    }
  });
  res.on('close', () => { if (!res.writableFinished) upReq.destroy(); });
  req.pipe(upReq);
});

server.listen(Number(portArg ?? 0), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
