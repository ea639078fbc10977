#!/usr/bin/env node
// End-to-end test of a fasten-mcp stdio server with the official TS SDK v1 client
// (@modelcontextprotocol/sdk 1.32.2, legacy era, protocolVersion 2025-11-25).
//
// usage: node stdio-client.mjs <command> [args...]
//   e.g. node stdio-client.mjs /abs/build/fasten-mcp serve --store sqlite:////abs/out/demo.db --tenant acme
// env:   WIRE=1             echo every JSON-RPC message to stderr (">>" sent, "<<" received)
//        STEP_TIMEOUT_MS    per-step timeout (default 10000)
//        CANCEL_DELAY_MS    delay before aborting the chain_verify call (default 5)
//        TOOL, ARGS         optionally one extra call of TOOL with ARGS (JSON), result printed
// Prints "ok <check>" / "FAIL <check>: why" per check; exits 1 if any check failed.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Checks, STEP_TIMEOUT_MS, oneLine, reapChildren, serverEnv, tapTransport, trackChild, watchdog, withTimeout } from './lib.mjs';
import { runFastenChecks } from './fasten-checks.mjs';

const EXPECTED_VERSION = '2025-11-25';
const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: node stdio-client.mjs <command> [args...]');
  process.exit(2);
}

const checks = new Checks();
watchdog(Number(process.env.WATCHDOG_MS ?? 180_000), checks);
const reqOpts = { timeout: STEP_TIMEOUT_MS };

// ---- wire observation -------------------------------------------------------------------
let initializeId;
let initializeResult;
const toolCallIds = new Map(); // request id -> tool name
const cancelledSent = new Set();
const answeredAfterCancel = new Set();
const transport = new StdioClientTransport({ command, args, env: serverEnv(getDefaultEnvironment()), stderr: 'inherit' });
const badLines = [];
trackChild(transport);
tapTransport(transport, {
  onBadLine: (text) => badLines.push(text),
  onOut(msg) {
    if (msg.method === 'initialize') initializeId = msg.id;
    if (msg.method === 'tools/call') toolCallIds.set(msg.id, msg.params?.name);
    if (msg.method === 'notifications/cancelled') cancelledSent.add(msg.params?.requestId);
  },
  onIn(msg) {
    if (msg.id !== undefined && msg.id === initializeId && msg.result) initializeResult = msg.result;
    if (msg.id !== undefined && cancelledSent.has(msg.id)) answeredAfterCancel.add(msg.id);
  },
});

const client = new Client({ name: 'fasten-e2e-sdk-v1', version: '0.1.0' });
const clientErrors = [];
client.onerror = (e) => clientErrors.push(e);

async function call(name, argsObj, opts = reqOpts) {
  return withTimeout(client.callTool({ name, arguments: argsObj }, undefined, opts), `tools/call ${name}`);
}

async function main() {
  // ---- connect + version -------------------------------------------------------------------
  const t0 = performance.now();
  try {
    await withTimeout(client.connect(transport, reqOpts), 'connect');
    checks.ok('connect', `${Math.round(performance.now() - t0)} ms`);
  } catch (e) {
    checks.fail('connect', e);
    return;
  }
  const negotiated = initializeResult?.protocolVersion;
  checks.check('protocol-version', negotiated === EXPECTED_VERSION,
    `negotiated ${negotiated}, expected ${EXPECTED_VERSION}`, negotiated);
  checks.info(`serverInfo ${oneLine(client.getServerVersion())} capabilities ${oneLine(client.getServerCapabilities())}`);
  checks.check('capabilities.tools', !!client.getServerCapabilities()?.tools, 'server did not declare the tools capability');

  await runFastenChecks({ client, checks, call, reqOpts, toolCallIds, cancelledSent });

  // ---- optional extra call -----------------------------------------------------------------------
  if (process.env.TOOL) {
    try {
      const res = await call(process.env.TOOL, JSON.parse(process.env.ARGS ?? '{}'));
      checks.info(`TOOL ${process.env.TOOL} -> ${JSON.stringify(res)}`);
    } catch (e) {
      checks.fail(`extra call ${process.env.TOOL}`, e);
    }
  }

  // ---- ping + close ------------------------------------------------------------------------
  try {
    await withTimeout(client.ping(reqOpts), 'ping');
    checks.ok('ping');
  } catch (e) {
    checks.fail('ping', e);
  }
  if (answeredAfterCancel.size) {
    checks.info(`server answered cancelled request id(s) ${[...answeredAfterCancel].join(', ')} (allowed race; SHOULD not respond)`);
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
const benign = (e) => /unknown message ID|cancelled/i.test(String(e?.message ?? e)) || e instanceof SyntaxError;
for (const e of clientErrors.filter(benign)) checks.info(`client error (tolerated): ${oneLine(e)}`);
const serious = clientErrors.filter((e) => !benign(e));
checks.check('stdout is pure JSON-RPC', badLines.length === 0,
  `bad_stdout_lines=${badLines.length}; first: ${oneLine(badLines[0] ?? '').slice(0, 160)}`);
checks.check('no client-side protocol errors', serious.length === 0, `${serious.length} error(s): ${serious.map(oneLine).join(' | ')}`);
await reapChildren();
process.exit(checks.summary());
