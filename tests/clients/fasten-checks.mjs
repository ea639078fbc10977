// The fasten-mcp tool checks shared by the SDK v1 clients (stdio-client.mjs, http-client.mjs):
// tool definitions, every tool once, audit_query paging, argument errors as isError, cancellation.
//
// runFastenChecks(ctx) with ctx = { client, checks, call, reqOpts, toolCallIds, cancelledSent }:
//   client        a connected SDK v1 Client
//   call(name, args, opts?)  tools/call with a timeout guard
//   toolCallIds   Map request id -> tool name, filled by the caller's wire tap (outgoing tools/call)
//   cancelledSent Set of request ids for which notifications/cancelled went out

import { checkToolResult, oneLine, rowsOf, sleep, textOf, totalMatched, withTimeout } from './lib.mjs';

const CANCEL_DELAY_MS = Number(process.env.CANCEL_DELAY_MS ?? 5);
export const TOOLS = ['audit_query', 'sys_query', 'api_query', 'request_trace', 'row_get', 'chain_verify',
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

export async function runFastenChecks(ctx) {
  const { client, checks, call, reqOpts } = ctx;
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
  let firstSealedRow;
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
      firstSealedRow = rows.find((r) => Number.isInteger(r?.monotonic_seq) && /^[0-9a-f]{64}$/.test(r?.hash ?? ''));
    }
  }

  // ---- validate_answer (fasten-mcp only; the reference servers do not have it) ---------------
  if (byName.has('validate_answer') && firstSealedRow) {
    const cite = { stream: 'audit', seq: firstSealedRow.monotonic_seq, hash: firstSealedRow.hash };
    try {
      const ok = await call('validate_answer', { claims: [{ text: 'A row was written.', citations: [cite] }] });
      const bad = await call('validate_answer', { claims: [{ text: 'Uncited.', citations: [] }] });
      const why = checkToolResult(ok) ?? checkToolResult(bad);
      checks.check('call validate_answer', !why && ok.structuredContent?.accepted === true &&
        bad.structuredContent?.accepted === false,
        why ?? `accepted=${oneLine(ok.structuredContent?.accepted)}/${oneLine(bad.structuredContent?.accepted)}`);
    } catch (e) {
      checks.fail('call validate_answer', e);
    }
  }

  // ---- paging audit_query --------------------------------------------------------------------
  await paging(ctx);

  // ---- argument errors are tool errors ---------------------------------------------------------
  await expectToolError(ctx, 'bad-arg limit=5000', { limit: 5000 }, /limit/);
  await expectToolError(ctx, 'unknown-property tenant_id', { tenant_id: 'globex' }, /tenant_id/);

  // ---- cancellation ----------------------------------------------------------------------------
  await cancellation(ctx);
}

async function paging({ checks, call }) {
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

async function expectToolError({ checks, call }, name, argsObj, mention) {
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

async function cancellation({ client, checks, reqOpts, toolCallIds, cancelledSent }) {
  // Abort a chain_verify call a few ms after sending it. If the server answered before the
  // abort went out there was nothing to cancel; retry once aborting on the next tick.
  for (const delay of [...new Set([CANCEL_DELAY_MS, 0])]) {
    const ac = new AbortController();
    let state = 'pending';
    const p = client.callTool({ name: 'chain_verify', arguments: {} }, undefined, { ...reqOpts, signal: ac.signal });
    p.then(() => { state = 'resolved'; }, () => { state = 'rejected'; });
    await sleep(delay);
    // Read after the sleep: an HTTP transport sends (and the wire tap sees) the request asynchronously.
    const callId = [...toolCallIds.entries()].filter(([, n]) => n === 'chain_verify').map(([id]) => id).pop();
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
    for (let i = 0; i < 50 && !cancelledSent.has(callId); i++) await sleep(10); // HTTP: the POST goes out asynchronously
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