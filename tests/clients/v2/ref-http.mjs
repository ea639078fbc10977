#!/usr/bin/env node
// Tiny dual-era Streamable HTTP reference server on @modelcontextprotocol/server 2.4.0
// (createMcpHandler: modern 2026-07-28 per request, legacy through its stateless fallback),
// wrapped the way docs/mcp.md §6 / §7 describe fasten-mcp: 403 for a bad Host or Origin before
// anything else, 401 + `WWW-Authenticate: Bearer realm="fasten-ref"` without a valid bearer token,
// the token selects the tenant, `/healthz` and `/readyz`.
//
// It mimics the fasten-mcp command line so that http-run-all.sh can be proven against it:
//   node v2/ref-http.mjs token add --tenant T --tokens FILE   # prints a new token; FILE keeps its SHA-256
//   node v2/ref-http.mjs serve --http 127.0.0.1:PORT --tokens FILE [--store DSN (ignored)]
//   node v2/ref-http.mjs demo --out FILE                      # writes a placeholder (fixture data is built in)
// The tools and their fixture rows come from v2/ref-tools.mjs (tenants acme and globex).
// env: REF_MAX_BODY  request body limit in bytes (default 4 MiB, answered 413 above it)
//      REF_FAULTS    see ref-tools.mjs; also noorigin (skip the Origin check), noauth (skip the token check)

import { createMcpHandler } from '@modelcontextprotocol/server';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { makeServer } from './ref-tools.mjs';

const FAULTS = new Set((process.env.REF_FAULTS ?? '').split(',').filter(Boolean));
const MAX_BODY = Number(process.env.REF_MAX_BODY ?? 4 * 1024 * 1024);
const sha256 = (s) => createHash('sha256').update(s).digest();
const log = (s) => process.stderr.write(`ref-http: ${s}\n`);

function opt(argv, name) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

const argv = process.argv.slice(2);
const cmd = argv[0] === 'token' ? `token ${argv[1]}` : argv[0];

if (cmd === 'token add') {
  const tenant = opt(argv, '--tenant');
  const file = opt(argv, '--tokens');
  if (!tenant || !file) { console.error('usage: ref-http.mjs token add --tenant T --tokens FILE'); process.exit(2); }
  const token = `ref_${randomBytes(24).toString('base64url')}`;
  appendFileSync(file, `${sha256(token).toString('hex')} ${tenant}\n`, { mode: 0o600 });
  console.log(token);
  process.exit(0);
}
if (cmd === 'demo') {
  const out = opt(argv, '--out');
  if (!out) { console.error('usage: ref-http.mjs demo --out FILE'); process.exit(2); }
  writeFileSync(out, 'fixture data is built into ref-tools.mjs\n');
  console.log('tenants: acme globex');
  process.exit(0);
}
if (cmd !== 'serve' || !opt(argv, '--http')) {
  console.error('usage: ref-http.mjs serve --http HOST:PORT --tokens FILE | token add --tenant T --tokens FILE | demo --out FILE');
  process.exit(2);
}

const [host, portText] = opt(argv, '--http').split(/:(?=\d+$)/);
const tokensFile = opt(argv, '--tokens');
const tokens = tokensFile
  ? readFileSync(tokensFile, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [hex, tenant] = l.trim().split(/\s+/);
    return { digest: Buffer.from(hex, 'hex'), tenant };
  })
  : [];

function tenantOf(req) {
  const m = /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const d = sha256(m[1]);
  let found;
  for (const t of tokens) if (t.digest.length === d.length && timingSafeEqual(t.digest, d)) found = t.tenant;
  return found;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const hostOk = (h) => typeof h === 'string' && LOOPBACK.has(h.replace(/:\d+$/, '').toLowerCase());
function originOk(o) {
  if (o === undefined || FAULTS.has('noorigin')) return true;
  try {
    const u = new URL(o);
    return (u.protocol === 'http:' || u.protocol === 'https:') && LOOPBACK.has(u.hostname === '::1' ? '[::1]' : u.hostname);
  } catch { return false; }
}

const handler = createMcpHandler((ctx) => makeServer(ctx.authInfo?.clientId), {
  onerror: (e) => log(String(e?.message ?? e).replace(/\s+/g, ' ').slice(0, 200)),
  maxRequestBodySize: MAX_BODY,
});

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}
const rpcError = (code, message) => ({ jsonrpc: '2.0', error: { code, message } });

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (!hostOk(req.headers.host) || !originOk(req.headers.origin)) {
    return sendJson(res, 403, rpcError(-32600, 'Forbidden: Host or Origin not allowed'));
  }
  if (path === '/healthz' || path === '/readyz') return sendJson(res, 200, { ok: true });
  if (path !== '/mcp') return sendJson(res, 404, rpcError(-32601, 'Not found'));
  const tenant = FAULTS.has('noauth') ? 'acme' : tenantOf(req);
  if (!tenant) {
    return sendJson(res, 401, rpcError(-32001, 'Unauthorized'), { 'www-authenticate': 'Bearer realm="fasten-ref"' });
  }
  // Node request -> web Request (the body is read here, bounded, so an oversize body is a 413).
  const tooLarge = () => {
    sendJson(res, 413, rpcError(-32600, 'Request body too large'), { connection: 'close' });
    req.resume(); // drain what is in flight so that the client reads the 413, then drop the connection
    res.on('finish', () => setTimeout(() => req.socket?.destroy(), 200));
  };
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return tooLarge();
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > MAX_BODY) return tooLarge();
    chunks.push(c);
  }
  // Batches only for a 2025-03-26 peer (docs/mcp.md §2); the SDK's legacy fallback would serve them
  const first = Buffer.concat(chunks).toString('utf8').trimStart()[0];
  if (first === '[' && req.headers['mcp-protocol-version'] !== '2025-03-26') {
    return sendJson(res, 400, rpcError(-32600, 'Invalid Request: batches are not supported'));
  }
  const ac = new AbortController();
  res.on('close', () => { if (!res.writableFinished) ac.abort(); });
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  const body = ['GET', 'HEAD'].includes(req.method) ? undefined : Buffer.concat(chunks);
  let response;
  try {
    response = await handler.fetch(new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body, signal: ac.signal }),
      { authInfo: { token: 'redacted', clientId: tenant, scopes: [] } });
  } catch (e) {
    log(`handler: ${e?.message ?? e}`);
    return sendJson(res, 500, rpcError(-32603, 'Internal error'));
  }
  res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
  if (!response.body) return res.end();
  try {
    for await (const chunk of response.body) res.write(chunk);
  } catch { /* client went away */ }
  res.end();
});

server.on('checkContinue', (req, res) => server.emit('request', req, res));
server.listen(Number(portText), host, () => log(`listening on http://${host}:${server.address().port}/mcp`));
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => {
    server.close();
    await handler.close().catch(() => {});
    process.exit(0);
  });
}
