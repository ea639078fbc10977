#!/usr/bin/env node
// End-to-end test of a Streamable HTTP MCP server with the official TS SDK v1 client
// (@modelcontextprotocol/sdk 1.32.2, legacy era, protocolVersion 2025-11-25).
//
// usage: node http-client.mjs <url>
//   e.g. BEARER=<token> node http-client.mjs http://127.0.0.1:8765/mcp
// env:   BEARER             adds "Authorization: Bearer <BEARER>" to every request
//        EXPECT             fasten (default): the fasten-mcp tool checks of stdio-client.mjs;
//                           generic: any server (e.g. the SDK example servers): >= 1 tool, TOOL called
//        TOOL, ARGS         one extra call of TOOL with ARGS (JSON); its result is printed and must
//                           not be an error
//        WIRE=1             echo every HTTP exchange and JSON-RPC message to stderr
//        STEP_TIMEOUT_MS    per-step timeout (default 10000); CANCEL_DELAY_MS (default 5)
// Prints "ok <check>" / "FAIL <check>: why" per check; exits 1 if any check failed.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Checks, STEP_TIMEOUT_MS, oneLine, textOf, watchdog, wireFetch, withTimeout } from './lib.mjs';
import { runFastenChecks } from './fasten-checks.mjs';

const EXPECTED_VERSION = process.env.EXPECT_VERSION ?? '2025-11-25';
const EXPECT = process.env.EXPECT ?? 'fasten';
const url = process.argv[2];
if (!url || !['fasten', 'generic'].includes(EXPECT)) {
  console.error('usage: [BEARER=token] [EXPECT=fasten|generic] [TOOL=name ARGS=json] node http-client.mjs <url>');
  process.exit(2);
}

const checks = new Checks();
watchdog(Number(process.env.WATCHDOG_MS ?? 120_000), checks);
const reqOpts = { timeout: STEP_TIMEOUT_MS };

// ---- wire observation -------------------------------------------------------------------
let initializeId;
let initializeResult;
const toolCallIds = new Map(); // request id -> tool name
const cancelledSent = new Set();
const exchanges = []; // {method, status, headers, reqBody, text}
const fetchTap = wireFetch({
  onOut(msg) {
    if (msg.method === 'initialize') initializeId = msg.id;
    if (msg.method === 'tools/call') toolCallIds.set(msg.id, msg.params?.name);
    if (msg.method === 'notifications/cancelled') cancelledSent.add(msg.params?.requestId);
  },
  onIn(msg) {
    if (msg.id !== undefined && msg.id === initializeId && msg.result) initializeResult = msg.result;
  },
  onHttp: (x) => exchanges.push(x),
});

const headers = {};
if (process.env.BEARER) headers.Authorization = `Bearer ${process.env.BEARER}`;
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers }, fetch: fetchTap });
const client = new Client({ name: 'fasten-e2e-sdk-v1-http', version: '0.1.0' });
const clientErrors = [];
client.onerror = (e) => clientErrors.push(e);

const call = (name, argsObj, opts = reqOpts) =>
  withTimeout(client.callTool({ name, arguments: argsObj }, undefined, opts), `tools/call ${name}`);

async function main() {
  const t0 = performance.now();
  try {
    await withTimeout(client.connect(transport, reqOpts), 'connect');
    checks.ok('connect', `${Math.round(performance.now() - t0)} ms`);
  } catch (e) {
    checks.fail('connect', `${oneLine(e)}${e?.code ? ` (code ${e.code})` : ''}`);
    return;
  }
  const negotiated = initializeResult?.protocolVersion ?? transport.protocolVersion;
  console.log(`# negotiated protocolVersion: ${negotiated}`);
  checks.check('protocol-version', negotiated === EXPECTED_VERSION,
    `negotiated ${negotiated}, expected ${EXPECTED_VERSION}`, negotiated);
  checks.info(`serverInfo ${oneLine(client.getServerVersion())} capabilities ${oneLine(client.getServerCapabilities())}`);
  checks.info(`session id: ${transport.sessionId ?? '(none: stateless)'}`);
  checks.check('capabilities.tools', !!client.getServerCapabilities()?.tools, 'server did not declare the tools capability');

  const t1 = performance.now();
  if (EXPECT === 'fasten') {
    await runFastenChecks({ client, checks, call, reqOpts, toolCallIds, cancelledSent });
  } else {
    try {
      const res = await withTimeout(client.listTools(undefined, reqOpts), 'tools/list');
      checks.check('tools/list', (res.tools ?? []).length > 0, 'no tools', `${res.tools.length} tools: ${res.tools.map((t) => t.name).join(', ')}`);
    } catch (e) {
      checks.fail('tools/list', e);
    }
  }

  if (process.env.TOOL) {
    try {
      const res = await call(process.env.TOOL, JSON.parse(process.env.ARGS ?? '{}'));
      checks.info(`TOOL ${process.env.TOOL} -> ${oneLine(res)}`);
      checks.check(`call ${process.env.TOOL}`, res && !res.isError && Array.isArray(res.content),
        `isError or no content: ${oneLine(textOf(res) || res)}`);
    } catch (e) {
      checks.fail(`call ${process.env.TOOL}`, e);
    }
  }

  try {
    await withTimeout(client.ping(reqOpts), 'ping');
    checks.ok('ping');
  } catch (e) {
    checks.fail('ping', e);
  }
  checks.info(`list+calls+ping ${Math.round(performance.now() - t1)} ms`);
}

try {
  await main();
} catch (e) {
  checks.fail('unexpected', e?.stack ?? e);
}
if (transport.sessionId) {
  try {
    await withTimeout(transport.terminateSession(), 'terminateSession');
    checks.ok('terminateSession (DELETE)');
  } catch (e) {
    checks.fail('terminateSession (DELETE)', e);
  }
}
try {
  await withTimeout(client.close(), 'close');
  checks.ok('close');
} catch (e) {
  checks.fail('close', e);
}
await new Promise((r) => setTimeout(r, 50)); // let the body readers of the wire tap finish

// ---- HTTP-level checks over every exchange ----------------------------------------------
const posts = exchanges.filter((x) => x.method === 'POST');
const isNotification = (b) => b && typeof b === 'object' && !Array.isArray(b) && b.method && b.id === undefined;
const badNotif = posts.filter((x) => isNotification(x.reqBody) && (x.status !== 202 || x.text !== ''));
checks.check('notifications -> 202, empty body', badNotif.length === 0,
  `${badNotif.length} notification POST(s) answered otherwise: ${oneLine(badNotif.map((x) => `${x.reqBody.method} -> ${x.status} ${x.text.slice(0, 100)}`))}`);
const badReq = posts.filter((x) => !isNotification(x.reqBody)
  && (x.status !== 200 || !/^(application\/json|text\/event-stream)/.test(x.headers['content-type'] ?? '')));
checks.check('requests -> 200 json or SSE', badReq.length === 0,
  `${badReq.length} request POST(s): ${oneLine(badReq.map((x) => `${x.reqBody?.method} -> ${x.status} ${x.headers['content-type']} ${x.text.slice(0, 100)}`))}`);
const sse = posts.filter((x) => (x.headers['content-type'] ?? '').startsWith('text/event-stream'));
const noBuf = sse.filter((x) => x.headers['x-accel-buffering'] !== 'no');
if (sse.length) checks.info(`${sse.length} SSE response(s); ${noBuf.length} without X-Accel-Buffering: no (SHOULD)`);
const others = exchanges.filter((x) => x.method !== 'POST').map((x) => `${x.method} -> ${x.status}`);
if (others.length) checks.info(`other exchanges: ${others.join(', ')}`);
checks.info(`${exchanges.length} HTTP exchange(s)`);

// A late answer to a cancelled request is an allowed race; an aborted standalone GET is not an error.
const benign = (e) => /unknown message ID|cancelled|abort/i.test(String(e?.message ?? e));
for (const e of clientErrors.filter(benign)) checks.info(`client error (tolerated): ${oneLine(e)}`);
const serious = clientErrors.filter((e) => !benign(e));
checks.check('no client-side protocol errors', serious.length === 0, `${serious.length} error(s): ${serious.map(oneLine).join(' | ')}`);
process.exit(checks.summary());
