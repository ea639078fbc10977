#!/usr/bin/env node
// Tenant isolation over Streamable HTTP: the bearer token selects the tenant, and nothing one
// tenant's token returns may carry another tenant's rows (docs/mcp.md §7). Written for the demo
// store (`fasten-mcp demo`: tenants acme and globex; the MQTT incident, audit code
// MQTT_MESSAGE_LOST and request c0f1e2d3a4b5, belongs to globex alone) and the reference server
// v2/ref-http.mjs, which has the same markers.
//
// usage: TOKEN_A=<acme token> TOKEN_B=<globex token> node tenant-isolation.mjs <url>
// env:   TENANT_A (default acme), TENANT_B (default globex); WIRE=1; STEP_TIMEOUT_MS
// Prints "ok <check>" / "FAIL <check>: why"; exits 1 if any check failed.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Checks, STEP_TIMEOUT_MS, oneLine, rowsOf, textOf, watchdog, wireFetch, withTimeout } from './lib.mjs';

const url = process.argv[2];
const A = process.env.TENANT_A ?? 'acme';
const B = process.env.TENANT_B ?? 'globex';
if (!url || !process.env.TOKEN_A || !process.env.TOKEN_B) {
  console.error('usage: TOKEN_A=<token of tenant A> TOKEN_B=<token of tenant B> node tenant-isolation.mjs <url>');
  process.exit(2);
}
const B_CODE = process.env.B_ONLY_CODE ?? 'MQTT_MESSAGE_LOST';
const B_REQUEST = process.env.B_ONLY_REQUEST ?? 'c0f1e2d3a4b5';

const checks = new Checks();
watchdog(Number(process.env.WATCHDOG_MS ?? 60_000), checks);
const reqOpts = { timeout: STEP_TIMEOUT_MS };

async function connect(token, name) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } }, fetch: wireFetch(),
  });
  const client = new Client({ name: `fasten-e2e-isolation-${name}`, version: '0.1.0' });
  await withTimeout(client.connect(transport, reqOpts), `connect as ${name}`);
  return client;
}
const call = (client, name, args) =>
  withTimeout(client.callTool({ name, arguments: args }, undefined, reqOpts), `tools/call ${name}`);

// Every row-like object anywhere in a value whose tenant_id is not `tenant`.
function foreignRows(v, tenant, out = []) {
  if (Array.isArray(v)) for (const x of v) foreignRows(x, tenant, out);
  else if (v && typeof v === 'object') {
    if (typeof v.tenant_id === 'string' && v.tenant_id !== tenant) out.push(v);
    for (const x of Object.values(v)) foreignRows(x, tenant, out);
  }
  return out;
}
// The whole answer (text blocks and structuredContent) must not name the other tenant.
function leak(res, tenant, other) {
  const all = `${textOf(res)}\n${JSON.stringify(res?.structuredContent ?? null)}`;
  const rows = foreignRows(res?.structuredContent, tenant);
  if (rows.length) return `${rows.length} row(s) of another tenant, first: ${oneLine(rows[0]).slice(0, 200)}`;
  if (all.includes(`"tenant_id":"${other}"`) || all.includes(`"tenant_id": "${other}"`)) return `answer contains "tenant_id":"${other}"`;
  return null;
}

async function main() {
  let a, b;
  try {
    a = await connect(process.env.TOKEN_A, A);
    b = await connect(process.env.TOKEN_B, B);
    checks.ok('connect with both tokens');
  } catch (e) {
    checks.fail('connect with both tokens', e);
    return;
  }

  // Positive control: B sees its own incident (else the probes below prove nothing).
  let bCursor;
  let bRow;
  try {
    const res = await call(b, 'audit_query', { code: B_CODE, limit: 2 });
    const rows = rowsOf(res.structuredContent);
    bCursor = res.structuredContent?.next_cursor;
    bRow = rows[0];
    checks.check(`${B} sees its own ${B_CODE} rows`, !res.isError && rows.length > 0 && rows.every((r) => r.tenant_id === undefined || r.tenant_id === B),
      `isError=${res.isError} rows=${rows.length}: ${oneLine(textOf(res)).slice(0, 200)}`, `${rows.length} row(s), total_matched ${res.structuredContent?.total_matched}`);
    const why = leak(res, B, A);
    checks.check(`${B}: no ${A} data`, !why, why);
  } catch (e) {
    checks.fail(`${B} sees its own ${B_CODE} rows`, e);
  }

  // A asks for B-only data in every way a filter allows.
  const probes = [
    ['audit_query', { code: B_CODE, limit: 200 }, true],
    ['audit_query', { request_id: B_REQUEST, limit: 200 }, true],
    ['audit_query', { limit: 200 }, false],
    ['sys_query', { limit: 200 }, false],
    ['api_query', { limit: 200 }, false],
    ['request_trace', { request_id: B_REQUEST }, true],
    ['search', { query: 'mqtt' }, false],
    ['topology', {}, false],
  ];
  for (const [tool, args, mustBeEmpty] of probes) {
    const name = `${A} ${tool} ${JSON.stringify(args)}`;
    try {
      const res = await call(a, tool, args);
      const why = leak(res, A, B);
      if (why) { checks.fail(name, why); continue; }
      if (mustBeEmpty && !res.isError) {
        const sc = res.structuredContent ?? {};
        const n = Array.isArray(sc.rows) ? sc.rows.length
          : ['audit', 'sys', 'api'].reduce((k, key) => k + (Array.isArray(sc[key]) ? sc[key].length : 0), 0);
        checks.check(name, n === 0 && (sc.total_matched ?? 0) === 0, `${n} row(s) for a ${B}-only filter: ${oneLine(sc).slice(0, 300)}`, 'no rows');
      } else {
        checks.ok(name, res.isError ? `isError: ${oneLine(textOf(res)).slice(0, 80)}` : `${rowsOf(res.structuredContent).length} row(s), all ${A}`);
      }
    } catch (e) {
      checks.fail(name, e);
    }
  }

  // B's cursor replayed with A's token: refused (cursors are bound to tenant and query).
  if (typeof bCursor === 'string') {
    try {
      const res = await call(a, 'audit_query', { code: B_CODE, limit: 2, cursor: bCursor });
      const why = leak(res, A, B);
      checks.check(`${A} replays ${B}'s cursor`, !why && res.isError === true,
        why ?? `expected isError (cursor bound to tenant), got ${oneLine(res).slice(0, 200)}`, oneLine(textOf(res)).slice(0, 100));
    } catch (e) {
      checks.fail(`${A} replays ${B}'s cursor`, e);
    }
  } else {
    checks.info(`no next_cursor from ${B}'s ${B_CODE} query: cursor replay not tested`);
  }

  // One of B's rows fetched by A with its exact coordinates.
  if (bRow?.monotonic_seq !== undefined && bRow?.hash) {
    const args = { monotonic_seq: bRow.monotonic_seq, hash: bRow.hash };
    if (bRow.source_node_id !== undefined) args.source_node_id = bRow.source_node_id;
    try {
      const res = await call(a, 'row_get', args);
      const why = leak(res, A, B);
      const found = !res.isError && res.structuredContent && JSON.stringify(res.structuredContent).includes(bRow.hash)
        && !(res.structuredContent.row === null);
      checks.check(`${A} row_get of a ${B} row`, !why && !found, why ?? `row returned: ${oneLine(res.structuredContent).slice(0, 200)}`,
        res.isError ? `isError: ${oneLine(textOf(res)).slice(0, 80)}` : 'not found');
    } catch (e) {
      checks.fail(`${A} row_get of a ${B} row`, e);
    }
  }
  await a.close().catch(() => {});
  await b.close().catch(() => {});
}

try {
  await main();
} catch (e) {
  checks.fail('unexpected', e?.stack ?? e);
}
process.exit(checks.summary());
