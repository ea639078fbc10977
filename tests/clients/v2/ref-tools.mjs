// Tool set of the tiny dual-era reference servers (v2/ref-server.mjs on stdio,
// v2/ref-http.mjs on Streamable HTTP), built on @modelcontextprotocol/server 2.4.0.
//
// It registers the same nine tool names as fasten-mcp with small strict schemas and returns
// plausible, deterministic structuredContent (a fixed list of audit rows for two tenants, acme
// and globex, paged with an opaque next_cursor). Its only purpose is to validate the client
// harness in tests/clients/ and to serve as a wire reference; it is NOT a model of fasten-mcp's
// real semantics.
//
// makeServer(tenant): a fresh McpServer that sees only `tenant`'s rows (all rows when undefined).
// env:   REF_CHAIN_VERIFY_MS  artificial duration of chain_verify (default 300 ms) so that
//                             cancellation can be exercised
//        REF_FAULTS           comma list of injected faults, to check that the harness notices them:
//                             dup (pages overlap by one row), count (total_matched off by one),
//                             text (text block differs from structuredContent), hints (openWorldHint true),
//                             leak (tenant filter ignored)

import { McpServer } from '@modelcontextprotocol/server';
import { createHash } from 'node:crypto';
import * as z from 'zod';

const CHAIN_VERIFY_MS = Number(process.env.REF_CHAIN_VERIFY_MS ?? 300);
const FAULTS = new Set((process.env.REF_FAULTS ?? '').split(',').filter(Boolean));
const ACME_NODES = ['node-a', 'node-b', 'node-c'];
const NODES = [...ACME_NODES, 'mqtt-bridge-1'];
const CODES = ['ORDER_PLACED', 'LOGIN_OK', 'ORDER_PLACED', 'REFUND_ISSUED', 'ORDER_PLACED'];

// ---- fixed data set -------------------------------------------------------------------
const AUDIT = [];
for (let i = 0; i < 20; i++) {
  const source_node_id = ACME_NODES[i % ACME_NODES.length];
  const monotonic_seq = Math.floor(i / ACME_NODES.length) + 1;
  const ts = new Date(Date.UTC(2026, 10, 20, 10, 0, i * 7)).toISOString();
  const code = CODES[i % CODES.length];
  const hash = createHash('sha256').update(`${source_node_id}/${monotonic_seq}/${code}`).digest('hex');
  AUDIT.push({ monotonic_seq, hash, source_node_id, ts, code, actor: i % 2 ? 'alice' : 'bob', chain_status: 'verified',
    tenant_id: 'acme' });
}
// globex's own rows (an MQTT incident): never visible to acme.
for (let i = 0; i < 6; i++) {
  const monotonic_seq = 100 + i;
  const code = 'MQTT_MESSAGE_LOST';
  const hash = createHash('sha256').update(`mqtt-bridge-1/${monotonic_seq}/${code}`).digest('hex');
  AUDIT.push({ monotonic_seq, hash, source_node_id: 'mqtt-bridge-1', ts: new Date(Date.UTC(2026, 10, 20, 9, 14 + i)).toISOString(),
    code, actor: 'device/plant-7', chain_status: 'verified', tenant_id: 'globex', request_id: 'c0f1e2d3a4b5' });
}
const SYS = Array.from({ length: 8 }, (_, i) => ({
  seq: i + 1, ts: new Date(Date.UTC(2026, 10, 20, 11, i)).toISOString(), level: i % 3 ? 'info' : 'warn',
  source_node_id: NODES[i % 3], message: `sys event ${i + 1}`, digest: `d${(i + 1).toString(16).padStart(8, '0')}`, tenant_id: 'acme',
}));
const API = Array.from({ length: 8 }, (_, i) => ({
  seq: i + 1, ts: new Date(Date.UTC(2026, 10, 20, 12, i)).toISOString(), status: i % 2 ? 502 : 200,
  route: '/v1/charge', upstream: 'stripe', request_id: i === 0 ? '3a7b1c9e4d20' : `req${i}`,
  latency_ms: 40 + i, digest: `a${(i + 1).toString(16).padStart(8, '0')}`, tenant_id: 'acme',
}));
API.push({ seq: 9, ts: '2026-11-20T09:14:07Z', status: 200, route: '/v1/config/mqtt', upstream: 'config-service',
  request_id: 'c0f1e2d3a4b5', latency_ms: 15, digest: 'a00000009', tenant_id: 'globex' });

const WINDOW = { since: '2026-11-20T00:00:00Z', until: '2026-11-21T00:00:00Z' };

// ---- helpers --------------------------------------------------------------------------
const encodeCursor = (query, offset) =>
  Buffer.from(JSON.stringify({ q: query, o: offset })).toString('base64url');
function decodeCursor(cursor, query) {
  const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (c.q !== query || !Number.isInteger(c.o) || c.o < 0) throw new Error('cursor does not belong to this query');
  return c.o;
}

function page(all, args, queryKey) {
  const limit = args.limit ?? 50;
  let offset = 0;
  if (args.cursor) {
    try { offset = decodeCursor(args.cursor, queryKey); } catch (e) { return toolError(`cursor: invalid (${e.message}); restart without cursor`); }
  }
  const rows = all.slice(offset, offset + limit);
  const more = offset + limit < all.length;
  const step = FAULTS.has('dup') && limit > 1 ? limit - 1 : limit;
  return ok({
    rows, truncated: more, total_matched: all.length + (FAULTS.has('count') ? 1 : 0),
    next_cursor: more ? encodeCursor(queryKey, offset + step) : null,
    window: WINDOW,
  });
}

function ok(structured) {
  const text = JSON.stringify(FAULTS.has('text') ? { ...structured, extra: 1 } : structured);
  return { content: [{ type: 'text', text }], structuredContent: structured };
}
function toolError(text) {
  return { content: [{ type: 'text', text }], isError: true };
}

const ANN = { readOnlyHint: true, openWorldHint: FAULTS.has('hints'), idempotentHint: true, destructiveHint: false };
const LIST_OUT = z.object({
  rows: z.array(z.record(z.string(), z.any())),
  truncated: z.boolean(),
  total_matched: z.number().int(),
  next_cursor: z.string().nullable(),
  window: z.object({ since: z.string(), until: z.string() }).optional(),
});
const ANY_OUT = z.object({}).passthrough();
const limit = z.number().int().min(1).max(200).optional();
const ts = z.string().optional();

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(new Error('cancelled')); }, { once: true });
  });
}

// ---- server factory (one instance per connection/era) --------------------------------
export function makeServer(tenant) {
  const mine = (r) => tenant === undefined || FAULTS.has('leak') || r.tenant_id === tenant;
  const AUDIT_ = AUDIT.filter(mine);
  const SYS_ = SYS.filter(mine);
  const API_ = API.filter(mine);
  const NODES_ = NODES.filter((n) => AUDIT_.some((r) => r.source_node_id === n));
  const server = new McpServer({ name: 'fasten-ref-server', version: '0.0.1' }, { capabilities: { tools: {} } });

  server.registerTool('audit_query', {
    title: 'Audit query', description: 'Reads audit rows (reference fixture).', annotations: { title: 'Audit query', ...ANN },
    inputSchema: z.object({ limit, code: z.string().optional(), actor: z.string().optional(), request_id: z.string().optional(), since: ts, until: ts,
      cursor: z.string().optional() }).strict(),
    outputSchema: LIST_OUT,
  }, async (args) => {
    const all = AUDIT_.filter(r => (!args.code || r.code === args.code) && (!args.actor || r.actor === args.actor)
      && (!args.request_id || r.request_id === args.request_id));
    return page(all, args, JSON.stringify([tenant ?? '*', 'audit', args.code ?? null, args.actor ?? null, args.request_id ?? null]));
  });

  server.registerTool('sys_query', {
    title: 'System query', description: 'Reads system rows (reference fixture).', annotations: { title: 'System query', ...ANN },
    inputSchema: z.object({ limit, level: z.string().optional(), since: ts, until: ts, cursor: z.string().optional() }).strict(),
    outputSchema: LIST_OUT,
  }, async (args) => page(SYS_.filter(r => !args.level || r.level === args.level), args, JSON.stringify([tenant ?? '*', 'sys', args.level ?? null])));

  server.registerTool('api_query', {
    title: 'API query', description: 'Reads API rows (reference fixture).', annotations: { title: 'API query', ...ANN },
    inputSchema: z.object({ limit, status: z.number().int().min(100).max(599).optional(), since: ts, until: ts,
      cursor: z.string().optional() }).strict(),
    outputSchema: LIST_OUT,
  }, async (args) => page(API_.filter(r => !args.status || r.status === args.status), args, JSON.stringify([tenant ?? '*', 'api', args.status ?? null])));

  server.registerTool('request_trace', {
    title: 'Request trace', description: 'Follows one request id across stores (reference fixture).', annotations: { title: 'Request trace', ...ANN },
    inputSchema: z.object({ request_id: z.string().min(1).max(128) }).strict(),
    outputSchema: ANY_OUT,
  }, async ({ request_id }) => ok({ request_id, api: API_.filter(r => r.request_id === request_id),
    audit: AUDIT_.filter(r => r.request_id === request_id || (request_id === '3a7b1c9e4d20' && r.monotonic_seq <= 1)), sys: [] }));

  server.registerTool('row_get', {
    title: 'Row get', description: 'Fetches one audit row by seq and hash (reference fixture).', annotations: { title: 'Row get', ...ANN },
    inputSchema: z.object({ monotonic_seq: z.number().int().min(0), hash: z.string().min(1), source_node_id: z.string().optional() }).strict(),
    outputSchema: ANY_OUT,
  }, async ({ monotonic_seq, hash }) => {
    const row = AUDIT_.find(r => r.monotonic_seq === monotonic_seq && r.hash === hash);
    return row ? ok({ row }) : toolError(`row_get: no row with monotonic_seq=${monotonic_seq} and hash=${hash}`);
  });

  server.registerTool('chain_verify', {
    title: 'Chain verify', description: 'Verifies the audit hash chain (reference fixture).', annotations: { title: 'Chain verify', ...ANN },
    inputSchema: z.object({ source_node_id: z.string().optional() }).strict(),
    outputSchema: ANY_OUT,
  }, async (args, ctx) => {
    await sleep(CHAIN_VERIFY_MS, ctx?.mcpReq?.signal);
    const nodes = (args.source_node_id ? [args.source_node_id] : NODES_).map(n => ({
      source_node_id: n, rows: AUDIT_.filter(r => r.source_node_id === n).length, status: 'ok',
    }));
    return ok({ ok: true, nodes });
  });

  server.registerTool('red_metrics', {
    title: 'RED metrics', description: 'Rate/errors/duration per route (reference fixture).', annotations: { title: 'RED metrics', ...ANN },
    inputSchema: z.object({ since: ts, until: ts, route: z.string().optional() }).strict(),
    outputSchema: ANY_OUT,
  }, async (args) => ok({ window: { since: args.since ?? WINDOW.since, until: args.until ?? WINDOW.until },
    routes: [{ route: '/v1/charge', rate: 8, errors: 4, p50_ms: 43, p99_ms: 47 }] }));

  server.registerTool('topology', {
    title: 'Topology', description: 'Lists nodes and their links (reference fixture).', annotations: { title: 'Topology', ...ANN },
    inputSchema: z.object({}).strict(),
    outputSchema: ANY_OUT,
  }, async () => ok({ nodes: NODES_.map(n => ({ source_node_id: n })), edges: [{ from: 'node-a', to: 'node-b' }] }));

  server.registerTool('search', {
    title: 'Search', description: 'Keyword search over rows (reference fixture).', annotations: { title: 'Search', ...ANN },
    inputSchema: z.object({ query: z.string().min(1).max(256), since: ts, until: ts, limit }).strict(),
    outputSchema: LIST_OUT,
  }, async (args) => {
    const q = args.query.toLowerCase();
    const all = API_.filter(r => JSON.stringify(r).toLowerCase().includes(q));
    return page(all, args, JSON.stringify([tenant ?? '*', 'search', q]));
  });

  return server;
}

