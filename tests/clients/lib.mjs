// Shared helpers for the fasten-mcp client harness (no dependencies).
//
// Output convention: one line per check, "ok <name>" or "FAIL <name>: <why>"; informational
// lines start with "# ". Scripts exit 1 if any check failed.

import { isDeepStrictEqual } from 'node:util';

// Per-request timeout handed to the SDKs (they cancel and clean up themselves); the outer
// withTimeout() guard fires a little later, only if the SDK itself wedges.
export const STEP_TIMEOUT_MS = Number(process.env.STEP_TIMEOUT_MS ?? 10_000);
export const GUARD_TIMEOUT_MS = STEP_TIMEOUT_MS + 3_000;

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
export function withTimeout(promise, label, ms = GUARD_TIMEOUT_MS) {
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
    for (const pid of childPids) { try { process.kill(pid, 'SIGKILL'); } catch {} }
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
// onBadLine(text) is called for every stdout line that is not a JSON object with
// jsonrpc "2.0" (the v2 SDK silently skips non-JSON lines, so the raw bytes are scanned).
export function tapTransport(transport, { wire = process.env.WIRE === '1', onIn, onOut, onBadLine } = {}) {
  const origSend = transport.send.bind(transport);
  transport.send = async (msg, opts) => {
    if (wire) process.stderr.write(`>> ${safeJson(msg)}\n`);
    onOut?.(msg);
    return origSend(msg, opts);
  };
  const rb = transport._readBuffer;
  if (rb && typeof rb.append === 'function' && onBadLine) {
    const origAppend = rb.append.bind(rb);
    let pending = Buffer.alloc(0);
    rb.append = (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      let nl;
      while ((nl = pending.indexOf(0x0a)) >= 0) {
        const text = pending.subarray(0, nl).toString('utf8');
        pending = pending.subarray(nl + 1);
        let m;
        try { m = JSON.parse(text); } catch { m = undefined; }
        if (!m || typeof m !== 'object' || Array.isArray(m) || m.jsonrpc !== '2.0') onBadLine(text);
      }
      return origAppend(chunk);
    };
  }
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

// Remembers the pid of the server process an SDK stdio transport spawns, so that it can be
// reaped if the SDK's own close() did not get to it (e.g. after a failed connect, where the
// SDK closes in the background). Only pids recorded here are ever signalled.
const childPids = new Set();
export function trackChild(transport) {
  const origStart = transport.start.bind(transport);
  transport.start = async (...a) => {
    try {
      return await origStart(...a);
    } finally {
      if (transport.pid) childPids.add(transport.pid);
    }
  };
  return transport;
}

const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

export async function reapChildren(graceMs = 2_000) {
  for (const pid of childPids) {
    if (!alive(pid)) continue;
    const t0 = Date.now();
    while (alive(pid) && Date.now() - t0 < graceMs) await sleep(50); // SDK close may be in progress
    if (!alive(pid)) continue;
    try { process.kill(pid, 'SIGTERM'); } catch {}
    const t1 = Date.now();
    while (alive(pid) && Date.now() - t1 < 1_000) await sleep(50);
    if (alive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch {} }
    console.log(`# reaped server process ${pid} left running after close`);
  }
}

// Environment for the server under test. Like MCP hosts, the SDK stdio transports hand the
// child only a small safe set (HOME, LOGNAME, PATH, SHELL, TERM, USER on POSIX) unless told
// otherwise; on top of that we pass FASTEN_*, REF_* and any names listed in SERVER_ENV (comma
// separated), so a test can steer the server without leaking the whole environment.
export function serverEnv(base) {
  const env = { ...base };
  const extra = new Set((process.env.SERVER_ENV ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (k.startsWith('FASTEN_') || k.startsWith('REF_') || extra.has(k))) env[k] = v;
  }
  return env;
}

// A fetch() for the SDK HTTP client transports (their `fetch` option) that observes the wire:
// every request body (onOut), every JSON-RPC message in a response, whether a JSON body or an
// SSE stream (onIn), and every HTTP exchange (onHttp({method, status, headers, reqBody, text}),
// called once the response body has been read to its end). WIRE=1 echoes all of it to stderr.
export function wireFetch({ wire = process.env.WIRE === '1', onIn, onOut, onHttp } = {}) {
  return async (url, init = {}) => {
    const method = init.method ?? 'GET';
    let reqBody;
    if (typeof init.body === 'string') {
      try { reqBody = JSON.parse(init.body); } catch { reqBody = init.body; }
    }
    if (wire) process.stderr.write(`>> ${method} ${url}${reqBody !== undefined ? ` ${safeJson(reqBody)}` : ''}\n`);
    if (reqBody && typeof reqBody === 'object') for (const m of [reqBody].flat()) onOut?.(m);
    const res = await fetch(url, init);
    const ctype = res.headers.get('content-type') ?? '';
    const headers = Object.fromEntries(res.headers.entries());
    if (wire) process.stderr.write(`<< ${res.status} ${method} ${ctype}${headers['mcp-session-id'] ? ` mcp-session-id=${headers['mcp-session-id']}` : ''}\n`);
    if (!res.body) {
      onHttp?.({ method, status: res.status, headers, reqBody, text: '' });
      return res;
    }
    // Read a copy of the body in the background; the SDK consumes the original.
    const copy = res.clone();
    (async () => {
      let text = '';
      const emit = (m) => {
        if (wire) process.stderr.write(`<< ${safeJson(m)}\n`);
        for (const one of [m].flat()) if (one && typeof one === 'object') onIn?.(one);
      };
      try {
        if (ctype.includes('text/event-stream')) {
          const dec = new TextDecoder();
          let buf = '';
          for await (const chunk of copy.body) {
            const s = dec.decode(chunk, { stream: true });
            text += s;
            buf += s;
            let i;
            while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
              const event = buf.slice(0, i);
              buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
              const data = event.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
              if (data) { try { emit(JSON.parse(data)); } catch { if (wire) process.stderr.write(`<< (non-JSON SSE data) ${data.slice(0, 200)}\n`); } }
            }
          }
        } else {
          text = await copy.text();
          if (ctype.includes('json') && text) { try { emit(JSON.parse(text)); } catch {} }
          else if (wire && text) process.stderr.write(`<< (body) ${text.slice(0, 300)}\n`);
        }
      } catch (e) {
        if (wire) process.stderr.write(`<< (body read ended: ${oneLine(e)})\n`);
      }
      onHttp?.({ method, status: res.status, headers, reqBody, text });
    })();
    return res;
  };
}
