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
import {
  Checks, STEP_TIMEOUT_MS, checkToolResult, oneLine, rowsOf, sleep, tapTransport, textOf,
  totalMatched, reapChildren, serverEnv, trackChild, watchdog, withTimeout,
} from './lib.mjs';

const EXPECTED_VERSION = '2025-11-25';
const CANCEL_DELAY_MS = Number(process.env.CANCEL_DELAY_MS ?? 5);
const TOOLS = ['audit_query', 'sys_query', 'api_query', 'request_trace', 'row_get', 'chain_verify',
  'red_metrics', 'topology', 'search'];
const LIST_TOOLS = new Set(['audit_query', 'sys_query', 'api_query']);
// Valid arguments per tool; row_get's are filled in from the first audit_query row.
const VALID_ARGS = {
  audit_query: { limit: 5 },
  sys_query: { limit: 5 },
  api_query: { limit: 5, status: 502 },
  request_trace: { request_id: '3a7b1c9e4d20' },
  chain_verify: {},
  red_metrics: { since: '2026-11-20T00:00:00Z', until: '2026-11-21T00:00:00Z' },
  topology: {},
  search: { query: 'stripe', since: '2026-11-20T00:00:00Z' },
};

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

  // ---- tools/list ----------------------------------------------------------------------------
  let tools = [];
  try {
    let cursor;
    let pages = 0;
    do {
      const res = await withTimeout(client.listTools(cursor ? { cursor } : undefined, reqOpts), 'tools/list');
      tools.push(...(res.tools ?? []));
      cursor = res.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    checks.ok('tools/list', `${tools.length} tools, ${pages} page(s)`);
  } catch (e) {
    checks.fail('tools/list', e);
  }
  const byName = new Map(tools.map((t) => [t.name, t]));
  const missing = TOOLS.filter((n) => !byName.has(n));
  checks.check('tools/list names', missing.length === 0, `missing: ${missing.join(', ')}`);
  for (const t of tools) {
    const why = [];
    const is = t.inputSchema;
    if (!is || is.type !== 'object') why.push(`inputSchema.type=${is?.type}`);
    if (is?.additionalProperties !== false) why.push(`inputSchema.additionalProperties=${oneLine(is?.additionalProperties)}`);
    if (!t.outputSchema || typeof t.outputSchema !== 'object') why.push('no outputSchema');
    else if (t.outputSchema.type !== 'object') why.push(`outputSchema.type=${t.outputSchema.type} (legacy requires object)`);
    if (t.annotations?.readOnlyHint !== true) why.push(`readOnlyHint=${t.annotations?.readOnlyHint}`);
    if (t.annotations?.openWorldHint !== false) why.push(`openWorldHint=${t.annotations?.openWorldHint}`);
    if (!t.description) why.push('empty description');
    checks.check(`tool-def ${t.name}`, why.length === 0, why.join('; '));
  }

  // ---- every tool once -----------------------------------------------------------------------
  let firstAuditRow;
  for (const name of TOOLS) {
    let argsObj = VALID_ARGS[name];
    if (name === 'row_get') {
      if (!firstAuditRow) {
        checks.fail('call row_get', 'no audit row available from audit_query to look up');
        continue;
      }
      argsObj = { monotonic_seq: firstAuditRow.monotonic_seq, hash: firstAuditRow.hash };
    }
    const t1 = performance.now();
    let res;
    try {
      res = await call(name, argsObj);
    } catch (e) {
      checks.fail(`call ${name}`, e);
      continue;
    }
    const why = checkToolResult(res);
    checks.check(`call ${name}`, !why, why, `${Math.round(performance.now() - t1)} ms`);
    const sc = res.structuredContent;
    if (res.isError || !sc || typeof sc !== 'object') continue;
    if (LIST_TOOLS.has(name)) {
      const bad = [];
      if (!Array.isArray(sc.rows)) bad.push('rows not an array');
      if (typeof sc.truncated !== 'boolean') bad.push(`truncated=${oneLine(sc.truncated)}`);
      if (!('total_matched' in sc)) bad.push('no total_matched');
      if (!('next_cursor' in sc)) bad.push('no next_cursor');
      else if (sc.next_cursor !== null && typeof sc.next_cursor !== 'string') bad.push(`next_cursor=${oneLine(sc.next_cursor)}`);
      if (Array.isArray(sc.rows) && sc.rows.length > (argsObj.limit ?? Infinity)) bad.push(`${sc.rows.length} rows > limit ${argsObj.limit}`);
      checks.check(`shape ${name}`, bad.length === 0, bad.join('; '), `${sc.rows?.length} rows`);
    }
    if (name === 'audit_query') {
      const rows = rowsOf(sc);
      const bad = rows.filter((r) => r?.monotonic_seq === undefined || typeof r?.hash !== 'string' || r?.source_node_id === undefined);
      checks.check('audit rows citable', rows.length > 0 && bad.length === 0,
        rows.length === 0 ? 'audit_query {"limit":5} returned no rows' : `${bad.length} row(s) lack monotonic_seq/hash/source_node_id: ${oneLine(bad[0])}`);
      firstAuditRow = rows.find((r) => r?.monotonic_seq !== undefined && typeof r?.hash === 'string');
    }
  }

  // ---- paging audit_query --------------------------------------------------------------------
  await paging();

  // ---- argument errors are tool errors ---------------------------------------------------------
  await expectToolError('bad-arg limit=5000', { limit: 5000 }, /limit/);
  await expectToolError('unknown-property tenant_id', { tenant_id: 'globex' }, /tenant_id/);

  // ---- cancellation ----------------------------------------------------------------------------
  await cancellation();

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

async function paging() {
  const base = { limit: 7, code: 'ORDER_PLACED' };
  const seen = new Set();
  let dups = 0;
  let rowsTotal = 0;
  let first;
  let cursor = null;
  let pages = 0;
  let oversize = 0;
  const MAX_PAGES = 2000;
  try {
    do {
      const res = await call('audit_query', cursor ? { ...base, cursor } : base);
      const why = checkToolResult(res);
      if (why) throw new Error(`page ${pages + 1}: ${why}`);
      const sc = res.structuredContent;
      if (!first) first = sc;
      const rows = rowsOf(sc);
      if (rows.length > base.limit) oversize++;
      for (const r of rows) {
        const key = `${r.source_node_id}\u0000${r.monotonic_seq}`;
        if (seen.has(key)) dups++;
        seen.add(key);
      }
      rowsTotal += rows.length;
      pages++;
      if (sc.next_cursor !== null && typeof sc.next_cursor !== 'string') {
        throw new Error(`page ${pages}: next_cursor is ${oneLine(sc.next_cursor)}, expected string or null`);
      }
      if (sc.next_cursor !== null && sc.next_cursor === cursor) throw new Error(`page ${pages}: next_cursor did not advance`);
      cursor = sc.next_cursor;
    } while (cursor !== null && pages < MAX_PAGES);
  } catch (e) {
    checks.fail('paging audit_query', e);
    return;
  }
  checks.check('paging terminates', cursor === null, `still a next_cursor after ${MAX_PAGES} pages`, `${pages} page(s), ${rowsTotal} rows`);
  checks.check('paging page-size', oversize === 0, `${oversize} page(s) had more than ${base.limit} rows`);
  checks.check('paging no duplicate (source_node_id, monotonic_seq)', dups === 0, `${dups} duplicate row key(s)`);
  const tm = totalMatched(first);
  if (tm.exact) {
    checks.check('paging total = total_matched', rowsTotal === tm.value, `paged ${rowsTotal} rows, first page total_matched=${tm.value}`);
  } else {
    checks.info(`total_matched is a lower bound (${oneLine(tm.value)}); paged ${rowsTotal} rows`);
    const lb = typeof tm.value === 'number' ? tm.value : Number(String(tm.value ?? '').replace(/[^0-9]/g, ''));
    checks.check('paging total >= total_matched lower bound', Number.isFinite(lb) && rowsTotal >= lb,
      `paged ${rowsTotal} rows, lower bound ${oneLine(tm.value)}`);
  }
  if (rowsTotal <= base.limit) checks.info(`only ${rowsTotal} ORDER_PLACED rows: paging covered a single page`);
}

async function expectToolError(name, argsObj, mention) {
  try {
    const res = await call('audit_query', argsObj);
    const text = textOf(res);
    const why = !res.isError ? `expected isError true, got ${oneLine(res)}`
      : !mention.test(text) ? `error text does not mention ${mention}: ${oneLine(text)}` : null;
    checks.check(name, !why, why, oneLine(text).slice(0, 120));
  } catch (e) {
    checks.fail(name, `expected a tool result with isError true, got a rejection: ${oneLine(e)}`);
  }
}

async function cancellation() {
  // Abort a chain_verify call a few ms after sending it. If the server answered before the
  // abort went out there was nothing to cancel; retry once aborting on the next tick.
  for (const delay of [...new Set([CANCEL_DELAY_MS, 0])]) {
    const ac = new AbortController();
    let state = 'pending';
    const p = client.callTool({ name: 'chain_verify', arguments: {} }, undefined, { ...reqOpts, signal: ac.signal });
    p.then(() => { state = 'resolved'; }, () => { state = 'rejected'; });
    const callId = [...toolCallIds.entries()].filter(([, n]) => n === 'chain_verify').map(([id]) => id).pop();
    await sleep(delay);
    if (state !== 'pending') {
      await p.catch(() => {});
      checks.info(`chain_verify ${state} within ${delay} ms, before the abort; ${delay ? 'retrying with an immediate abort' : 'cannot test'}`);
      if (delay) continue;
      checks.fail('cancel rejects', `chain_verify ${state} before the abort could be sent`);
      return;
    }
    ac.abort();
    try {
      const r = await withTimeout(p, 'aborted chain_verify');
      checks.fail('cancel rejects', `promise resolved after abort: ${oneLine(r)}`);
    } catch (e) {
      // SDK v1 rejects with McpError(-32001, "AbortError: This operation was aborted").
      const isAbort = e?.name === 'AbortError' || /abort/i.test(String(e?.message ?? e));
      checks.check('cancel rejects', isAbort, `rejected, but not with an AbortError: ${oneLine(e)}`, `${e?.name}: ${oneLine(e?.message)}`);
    }
    checks.check('cancel notification sent', callId !== undefined && cancelledSent.has(callId),
      `no notifications/cancelled seen for request id ${callId}`, `requestId ${callId}`);
    try {
      await withTimeout(client.ping(reqOpts), 'ping after cancel');
      checks.ok('ping after cancel');
    } catch (e) {
      checks.fail('ping after cancel', e);
    }
    return;
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
