// Shared helpers for the fasten-mcp client harness (no dependencies).
//
// Output convention: one line per check, "ok <name>" or "FAIL <name>: <why>"; informational
// lines start with "# ". Scripts exit 1 if any check failed.

import { isDeepStrictEqual } from 'node:util';

export const STEP_TIMEOUT_MS = Number(process.env.STEP_TIMEOUT_MS ?? 10_000);

export class Checks {
  constructor(prefix = '') {
    this.prefix = prefix;
    this.passed = 0;
    this.failed = 0;
  }
  ok(name, note) {
    this.passed++;
    console.log(`ok ${this.prefix}${name}${note ? ` (${note})` : ''}`);
  }
  fail(name, why) {
    this.failed++;
    console.log(`FAIL ${this.prefix}${name}: ${oneLine(why)}`);
  }
  // Records ok/FAIL from a boolean; returns the boolean.
  check(name, cond, why, note) {
    if (cond) this.ok(name, note);
    else this.fail(name, why ?? 'condition false');
    return !!cond;
  }
  info(text) {
    console.log(`# ${this.prefix}${oneLine(text)}`);
  }
  summary() {
    console.log(`# ${this.prefix}summary: ${this.passed} ok, ${this.failed} failed`);
    return this.failed === 0 ? 0 : 1;
  }
}

export function oneLine(v) {
  let s = v instanceof Error ? `${v.name}: ${v.message}` : typeof v === 'string' ? v : safeJson(v);
  s = String(s).replace(/\s+/g, ' ');
  return s.length > 400 ? `${s.slice(0, 400)}…` : s;
}

export function safeJson(v) {
  try { return JSON.stringify(v); } catch { return String(v); }
}

// Rejects with a labelled timeout error if `promise` does not settle in `ms`.
export function withTimeout(promise, label, ms = STEP_TIMEOUT_MS) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Hard stop so a wedged child or SDK never hangs CI.
export function watchdog(ms, checks) {
  const t = setTimeout(() => {
    checks?.fail('watchdog', `script still running after ${ms} ms; aborting`);
    process.exit(1);
  }, ms);
  t.unref();
  return t;
}

// Wraps an SDK stdio transport so every JSON-RPC message is echoed to stderr (WIRE=1) and
// observers can inspect incoming/outgoing traffic. Outgoing: transport.send(). Incoming: the
// stdio transports (v1 and v2) parse stdout lines with their ReadBuffer's readMessage(), so
// that method is wrapped; transport.onmessage is left untouched because the SDKs save, chain
// and restore it themselves.
export function tapTransport(transport, { wire = process.env.WIRE === '1', onIn, onOut } = {}) {
  const origSend = transport.send.bind(transport);
  transport.send = async (msg, opts) => {
    if (wire) process.stderr.write(`>> ${safeJson(msg)}\n`);
    onOut?.(msg);
    return origSend(msg, opts);
  };
  const rb = transport._readBuffer;
  if (rb && typeof rb.readMessage === 'function') {
    const origRead = rb.readMessage.bind(rb);
    rb.readMessage = () => {
      const msg = origRead();
      if (msg !== null && msg !== undefined) {
        if (wire) process.stderr.write(`<< ${safeJson(msg)}\n`);
        onIn?.(msg);
      }
      return msg;
    };
  } else if (wire) {
    process.stderr.write('# WIRE: cannot tap incoming messages on this transport\n');
  }
  return transport;
}

// Verifies the legacy/modern "structuredContent duplicated in a text block" rule.
// Returns null when fine, else a reason string.
export function checkToolResult(res) {
  if (!res || typeof res !== 'object') return `no result object: ${oneLine(res)}`;
  if (res.isError) return `isError true: ${oneLine(textOf(res))}`;
  if (res.structuredContent === undefined || res.structuredContent === null) return 'structuredContent missing';
  const first = Array.isArray(res.content) ? res.content[0] : undefined;
  if (!first || first.type !== 'text' || typeof first.text !== 'string') return `content[0] is not a text block: ${oneLine(first)}`;
  let parsed;
  try { parsed = JSON.parse(first.text); } catch (e) { return `content[0].text is not JSON: ${e.message}`; }
  if (!isDeepStrictEqual(parsed, res.structuredContent)) return 'content[0].text JSON differs from structuredContent';
  return null;
}

export function textOf(res) {
  return (res?.content ?? []).filter((c) => c?.type === 'text').map((c) => c.text).join('\n');
}

// Accepts object rows, or columnar rows ({columns:[...], rows:[[...]]}), and returns objects.
export function rowsOf(sc) {
  const rows = Array.isArray(sc?.rows) ? sc.rows : [];
  if (rows.length && Array.isArray(rows[0]) && Array.isArray(sc.columns)) {
    return rows.map((r) => Object.fromEntries(sc.columns.map((c, i) => [typeof c === 'string' ? c : c?.name, r[i]])));
  }
  return rows;
}

// total_matched may be reported as a lower bound; detect the common encodings.
export function totalMatched(sc) {
  const tm = sc?.total_matched;
  const lowerFlag = Object.entries(sc ?? {}).some(
    ([k, v]) => /lower.?bound|at.?least|approx|is_estimate/i.test(k) && v === true);
  if (typeof tm === 'number' && Number.isInteger(tm) && !lowerFlag) return { exact: true, value: tm };
  return { exact: false, value: tm };
}
