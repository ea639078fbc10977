#!/usr/bin/env node
// End-to-end test of a fasten-mcp stdio server with the official TS SDK v2 client
// (@modelcontextprotocol/client 2.4.0), era selectable.
//
// usage: MODE=<auto|legacy|2026-07-28> node v2/v2-client.mjs stdio <command> [args...]
//        MODE=<auto|legacy|2026-07-28> [BEARER=token] node v2/v2-client.mjs http <url>
// MODE:  auto        -> versionNegotiation {mode:'auto'}  (server/discover probe, expect modern 2026-07-28)
//        legacy      -> versionNegotiation {mode:'legacy'} (plain initialize, expect 2025-11-25)
//        <version>   -> versionNegotiation {mode:{pin:'<version>'}} (expect modern at exactly that version)
//        default: 2026-07-28
// env:   WIRE=1 echo JSON-RPC traffic to stderr; STEP_TIMEOUT_MS per-step timeout (default 10000)
//        BEARER (http) adds "Authorization: Bearer <BEARER>" to every request
//        TOOL, ARGS   one extra call of TOOL with ARGS (JSON); must not be an error
// Prints "ok <check>" / "FAIL <check>: why" per check; exits 1 if any check failed.

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import {
  Checks, STEP_TIMEOUT_MS, checkToolResult, oneLine, reapChildren, serverEnv, tapTransport, textOf, trackChild, watchdog,
  wireFetch, withTimeout,
} from '../lib.mjs';

const MODERN_VERSION = '2026-07-28';
const LEGACY_VERSION = '2025-11-25';
const TOOLS = ['audit_query', 'sys_query', 'api_query', 'request_trace', 'row_get', 'chain_verify',
  'red_metrics', 'topology', 'search'];

const MODE = process.env.MODE ?? MODERN_VERSION;
const [kind, command, ...args] = process.argv.slice(2);
if (!['stdio', 'http'].includes(kind) || !command) {
  console.error('usage: MODE=<auto|legacy|YYYY-MM-DD> node v2/v2-client.mjs stdio <command> [args...] | http <url>');
  process.exit(2);
}

const mode = MODE === 'auto' || MODE === 'legacy' ? MODE : { pin: MODE };
const expectEra = MODE === 'legacy' ? 'legacy' : 'modern';
const expectVersion = MODE === 'legacy' ? LEGACY_VERSION : MODE === 'auto' ? MODERN_VERSION : MODE;

const checks = new Checks(`[${MODE}] `);
watchdog(Number(process.env.WATCHDOG_MS ?? 120_000), checks);
const reqOpts = { timeout: STEP_TIMEOUT_MS };

// Wire observation (stdio: the session transport only; in auto/pinned mode the SDK runs the
// server/discover probe on a short-lived sibling process that is not tapped. http: every exchange).
const results = []; // every result object received on the session transport
const listResults = []; // tools/list results
const listIds = new Set();
const badLines = [];
const exchanges = []; // http: {method, status, headers, reqBody, text}
const observe = {
  onBadLine: (text) => badLines.push(text),
  onOut(msg) {
    if (msg?.method === 'tools/list') listIds.add(msg.id);
  },
  onIn(msg) {
    if (msg && msg.id !== undefined && msg.result) {
      results.push(msg.result);
      if (listIds.has(msg.id)) listResults.push(msg.result);
    }
  },
  onHttp: (x) => exchanges.push(x),
};
let transport;
if (kind === 'stdio') {
  transport = new StdioClientTransport({ command, args, env: serverEnv(getDefaultEnvironment()), stderr: 'inherit' });
  trackChild(transport);
  tapTransport(transport, observe);
} else {
  const headers = {};
  if (process.env.BEARER) headers.Authorization = `Bearer ${process.env.BEARER}`;
  transport = new StreamableHTTPClientTransport(new URL(command), { requestInit: { headers }, fetch: wireFetch(observe) });
}

const client = new Client(
  { name: 'fasten-e2e-sdk-v2', version: '0.1.0' },
  { versionNegotiation: { mode, probe: { timeoutMs: STEP_TIMEOUT_MS } } },
);
const clientErrors = [];
client.onerror = (e) => clientErrors.push(e);

async function main() {
  const t0 = performance.now();
  try {
    // auto may spend one timeout on the discover probe and another on initialize.
    await withTimeout(client.connect(transport, reqOpts), 'connect', 2 * STEP_TIMEOUT_MS + 3_000);
    checks.ok('connect', `${Math.round(performance.now() - t0)} ms, mode ${JSON.stringify(mode)}`);
  } catch (e) {
    checks.fail('connect', `${oneLine(e)}${e?.code ? ` (code ${e.code})` : ''}`);
    return;
  }
  const era = client.getProtocolEra();
  const version = client.getNegotiatedProtocolVersion();
  checks.check('era', era === expectEra, `era ${era}, expected ${expectEra}`, era);
  checks.check('protocol-version', version === expectVersion, `negotiated ${version}, expected ${expectVersion}`, version);
  checks.info(`serverInfo ${oneLine(client.getServerVersion())} capabilities ${oneLine(client.getServerCapabilities())}`);
  if (era === 'modern') {
    const d = client.getDiscoverResult();
    checks.info(`discover supportedVersions ${oneLine(d?.supportedVersions)} ttlMs ${d?.ttlMs} cacheScope ${d?.cacheScope}`);
  }

  let tools = [];
  try {
    const res = await withTimeout(client.listTools(undefined, reqOpts), 'tools/list');
    tools = res.tools ?? [];
    checks.ok('tools/list', `${tools.length} tools`);
  } catch (e) {
    checks.fail('tools/list', e);
  }
  const names = new Set(tools.map((t) => t.name));
  const missing = TOOLS.filter((n) => !names.has(n));
  checks.check('tools/list names', missing.length === 0, `missing: ${missing.join(', ')}`);

  for (const [name, argsObj] of [
    ['audit_query', { limit: 3 }],
    ['request_trace', { request_id: '3a7b1c9e4d20' }],
  ]) {
    try {
      const res = await withTimeout(client.callTool({ name, arguments: argsObj }, reqOpts), `tools/call ${name}`);
      const why = checkToolResult(res);
      checks.check(`call ${name}`, !why, why);
    } catch (e) {
      checks.fail(`call ${name}`, e);
    }
  }

  if (process.env.TOOL) {
    try {
      const res = await withTimeout(client.callTool({ name: process.env.TOOL, arguments: JSON.parse(process.env.ARGS ?? '{}') }, reqOpts),
        `tools/call ${process.env.TOOL}`);
      checks.info(`TOOL ${process.env.TOOL} -> ${oneLine(res)}`);
      checks.check(`call ${process.env.TOOL}`, res && !res.isError && Array.isArray(res.content), `isError or no content: ${oneLine(textOf(res) || res)}`);
    } catch (e) {
      checks.fail(`call ${process.env.TOOL}`, e);
    }
  }

  if (era === 'modern') {
    // 2026-07-28: every result carries resultType (docs/mcp.md §2); serverInfo in _meta: a SHOULD.
    const without = results.filter((r) => r.resultType !== 'complete');
    checks.check('modern results carry resultType', results.length > 0 && without.length === 0,
      results.length === 0 ? 'no results observed on the wire' : `${without.length}/${results.length} result(s) without resultType "complete": ${oneLine(without[0])}`);
    // 2026-07-28: cacheable results carry ttlMs (integer >= 0) and cacheScope (docs/mcp.md §3).
    const badCache = listResults.filter((r) => !Number.isInteger(r.ttlMs) || r.ttlMs < 0 || !['public', 'private'].includes(r.cacheScope));
    checks.check('modern tools/list carries ttlMs + cacheScope', listResults.length > 0 && badCache.length === 0,
      listResults.length === 0 ? 'no tools/list result observed on the wire'
        : `ttlMs=${oneLine(badCache[0]?.ttlMs)} cacheScope=${oneLine(badCache[0]?.cacheScope)}`);
    const noInfo = results.filter((r) => !r?._meta?.['io.modelcontextprotocol/serverInfo']);
    if (noInfo.length) checks.info(`${noInfo.length}/${results.length} result(s) lack _meta serverInfo (SHOULD)`);
  }
}

try {
  await main();
} catch (e) {
  checks.fail('unexpected', e?.stack ?? e);
}
try {
  await withTimeout(client.close(), 'close');
  checks.ok('close');
} catch (e) {
  checks.fail('close', e);
}
// Transport/protocol errors the SDK reported out of band (e.g. a non-JSON stdout line).
// A late answer to a cancelled request is an allowed race, so it is only reported.
// Non-JSON stdout lines are counted by the stdout-purity check instead.
if (kind === 'http') {
  await new Promise((r) => setTimeout(r, 50)); // let the body readers of the wire tap finish
  const posts = exchanges.filter((x) => x.method === 'POST');
  const bad = posts.filter((x) => x.reqBody?.method !== 'server/discover' && (x.reqBody?.id === undefined ? x.status !== 202 : x.status !== 200));
  checks.check('HTTP status 200 (requests) / 202 (notifications)', bad.length === 0,
    oneLine(bad.map((x) => `${x.reqBody?.method} -> ${x.status} ${x.text.slice(0, 120)}`)));
  const sids = exchanges.filter((x) => x.headers['mcp-session-id']);
  if (client.getProtocolEra?.() === 'modern') checks.check('modern: no Mcp-Session-Id minted', sids.length === 0, `${sids.length} response(s) carried Mcp-Session-Id`);
  checks.info(`${exchanges.length} HTTP exchange(s): ${oneLine(exchanges.map((x) => `${x.reqBody?.method ?? x.method}:${x.status}`).join(' '))}`);
}
const benign = (e) => /unknown message ID|cancelled/i.test(String(e?.message ?? e)) || e instanceof SyntaxError;
for (const e of clientErrors.filter(benign)) checks.info(`client error (tolerated): ${oneLine(e)}`);
const serious = clientErrors.filter((e) => !benign(e));
checks.check('stdout is pure JSON-RPC', badLines.length === 0,
  `bad_stdout_lines=${badLines.length}; first: ${oneLine(badLines[0] ?? '').slice(0, 160)}`);
checks.check('no client-side protocol errors', serious.length === 0, `${serious.length} error(s): ${serious.map(oneLine).join(' | ')}`);
await reapChildren();
process.exit(checks.summary());
