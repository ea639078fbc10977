#!/usr/bin/env node
// Raw stdio probe (docs/mcp.md §9): writes edge-case lines to a stdio MCP server, checks that
// stdout carries nothing but JSON-RPC 2.0 messages, checks the answer to each edge case, sends a
// ~4 MiB line, then closes stdin and requires a clean exit (status 0) within EXIT_TIMEOUT_MS.
//
// usage: node raw-stdio.mjs [edge-cases.jsonl] <command> [args...]
// env:   WIRE=1 echo traffic to stderr; STEP_TIMEOUT_MS (default 10000); EXIT_TIMEOUT_MS (default 2000);
//        HUGE_MIB size of the huge line (default 4)
//        RAW_ALLOW_SILENT_DROP=1 accept no answer to malformed JSON and batches (TS SDK reference
//        behaviour; fasten-mcp must answer -32700 / -32600)
//
// Lines are sent in lock step: a request with an id waits for its answer; any other line is
// followed by a sentinel ping (id "sync-N") so that id-less answers (parse errors, batch or
// id:null rejections) can be attributed to the line that caused them. A request followed by
// a notifications/cancelled for its id is not waited for.
// Prints "ok <check>" / "FAIL <check>: why" per check; exits 1 if any check failed.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Checks, STEP_TIMEOUT_MS, oneLine, safeJson, serverEnv, sleep, watchdog } from './lib.mjs';

const EXIT_TIMEOUT_MS = Number(process.env.EXIT_TIMEOUT_MS ?? 2000);
const HUGE_BYTES = Math.round(Number(process.env.HUGE_MIB ?? 4) * 1024 * 1024);
const WIRE = process.env.WIRE === '1';
const GRACE_MS = 30;
// The TS SDK reference servers silently drop unparseable lines and batches (docs/mcp.md §5);
// RAW_ALLOW_SILENT_DROP=1 tolerates that (for reference runs only, never for fasten-mcp).
const ALLOW_SILENT_DROP = process.env.RAW_ALLOW_SILENT_DROP === '1';

let argv = process.argv.slice(2);
let jsonlPath = join(dirname(fileURLToPath(import.meta.url)), 'edge-cases.jsonl');
if (argv[0]?.endsWith('.jsonl') && existsSync(argv[0])) jsonlPath = argv.shift();
const [command, ...args] = argv;
if (!command) {
  console.error('usage: node raw-stdio.mjs [edge-cases.jsonl] <command> [args...]');
  process.exit(2);
}

const checks = new Checks();
watchdog(Number(process.env.WATCHDOG_MS ?? 120_000), checks);

// ---- child process and stdout line reader ---------------------------------------------------
const received = []; // {msg, step}
let badLines = 0;
const badSamples = [];
let currentStep = -1;
const waiters = [];
let pending = Buffer.alloc(0);

// Same environment policy as the SDK clients (see serverEnv in lib.mjs).
const POSIX_SAFE_ENV = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'];
const baseEnv = Object.fromEntries(POSIX_SAFE_ENV.filter((k) => process.env[k] !== undefined && !process.env[k].startsWith('()'))
  .map((k) => [k, process.env[k]]));
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], env: serverEnv(baseEnv) });
let exitInfo = null;
let spawnError = null;
const exitWaiters = [];
child.on('error', (e) => { spawnError = e; });
child.on('exit', (code, signal) => {
  exitInfo = { code, signal, at: performance.now() };
  for (const w of exitWaiters.splice(0)) w();
  for (const w of waiters.splice(0)) w.resolve(null);
});
await new Promise((resolve) => { child.once('spawn', resolve); child.once('error', resolve); });
if (spawnError) {
  checks.fail('spawn', spawnError);
  process.exit(checks.summary());
}
const stdinErrors = [];
child.stdin.on('error', (e) => stdinErrors.push(e));

function onLine(buf) {
  const text = buf.toString('utf8');
  if (WIRE) process.stderr.write(`<< ${text.length > 2000 ? `${text.slice(0, 2000)}…(${text.length} chars)` : text}\n`);
  let msg;
  try { msg = JSON.parse(text); } catch { msg = undefined; }
  const why = jsonRpcProblem(msg);
  if (why) {
    badLines++;
    if (badSamples.length < 3) badSamples.push(`${why}: ${oneLine(text).slice(0, 160)}`);
    return;
  }
  received.push({ msg, step: currentStep });
  for (let i = 0; i < waiters.length; i++) {
    if (waiters[i].pred(msg)) {
      waiters[i].resolve(msg);
      waiters.splice(i, 1);
      i--;
    }
  }
}
child.stdout.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  let nl;
  while ((nl = pending.indexOf(0x0a)) >= 0) {
    onLine(pending.subarray(0, nl));
    pending = pending.subarray(nl + 1);
  }
});

// A valid JSON-RPC 2.0 message object (request, notification, or response); returns why not.
function jsonRpcProblem(m) {
  if (m === undefined) return 'not JSON';
  if (!m || typeof m !== 'object' || Array.isArray(m)) return 'not a JSON object';
  if (m.jsonrpc !== '2.0') return 'jsonrpc is not "2.0"';
  const hasId = 'id' in m;
  if (hasId && m.id !== null && typeof m.id !== 'string' && typeof m.id !== 'number') return 'bad id type';
  if ('method' in m) {
    if (typeof m.method !== 'string') return 'method not a string';
    if ('result' in m || 'error' in m) return 'method together with result/error';
    return null;
  }
  const hasResult = 'result' in m;
  const hasError = 'error' in m;
  if (hasResult === hasError) return 'response needs exactly one of result/error';
  if (hasError && (typeof m.error !== 'object' || !Number.isInteger(m.error?.code) || typeof m.error?.message !== 'string')) {
    return 'malformed error object';
  }
  if (hasResult && (m.result === null || typeof m.result !== 'object')) return 'result is not an object';
  if (!hasId && !hasError) return 'success response without id';
  return null;
}

function waitFor(pred, ms = STEP_TIMEOUT_MS) {
  const hit = received.find((r) => pred(r.msg));
  if (hit) return Promise.resolve(hit.msg);
  if (exitInfo) return Promise.resolve(null);
  return new Promise((resolve) => {
    const w = { pred, resolve: (m) => { clearTimeout(t); resolve(m); } };
    const t = setTimeout(() => {
      const i = waiters.indexOf(w);
      if (i >= 0) waiters.splice(i, 1);
      resolve(null);
    }, ms);
    waiters.push(w);
  });
}

function write(text) {
  if (WIRE) process.stderr.write(`>> ${text.length > 2000 ? `${text.slice(0, 2000)}…(${text.length} chars)` : text}\n`);
  return new Promise((resolve) => {
    if (exitInfo || child.stdin.destroyed) return resolve(false);
    child.stdin.write(`${text}\n`, (err) => resolve(!err));
  });
}

const sameId = (a, b) => a === b && typeof a === typeof b;
const isResponse = (m) => !('method' in m);
const byId = (id) => (m) => isResponse(m) && 'id' in m && sameId(m.id, id);

// ---- send the edge cases -------------------------------------------------------------------
const lines = readFileSync(jsonlPath, 'utf8').split('\n').filter((l) => l.length > 0);
const steps = lines.map((raw) => {
  let obj;
  try { obj = JSON.parse(raw); } catch { obj = undefined; }
  return { raw, obj };
});
const sentIds = new Set(); // JSON of ids we sent (incl. batch members and sentinels)
const syncIds = new Set();

async function sentinel(step) {
  const id = `sync-${step}`;
  syncIds.add(id);
  sentIds.add(safeJson(id));
  await write(JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' }));
  const m = await waitFor(byId(id));
  await sleep(GRACE_MS);
  return m;
}

let lastSent = -1;
let stopped = false;

async function run() {
  for (let i = 0; i < steps.length; i++) {
    currentStep = i;
    const { raw, obj } = steps[i];
    if (obj && !Array.isArray(obj) && 'id' in obj && obj.id !== null) sentIds.add(safeJson(obj.id));
    if (Array.isArray(obj)) for (const o of obj) if (o && 'id' in o) sentIds.add(safeJson(o.id));
    const ok = await write(raw);
    if (!ok) {
      checks.fail(`write line ${i + 1}`, `could not write (server exited? ${oneLine(exitInfo)})`);
      return;
    }
    const isRequest = obj && !Array.isArray(obj) && typeof obj.method === 'string' && 'id' in obj
      && (typeof obj.id === 'string' || typeof obj.id === 'number') && obj.jsonrpc === '2.0';
    const next = steps[i + 1]?.obj;
    const cancelledNext = isRequest && next?.method === 'notifications/cancelled' && sameId(next?.params?.requestId, obj.id);
    let answered = true;
    if (isRequest && !cancelledNext) answered = !!(await waitFor(byId(obj.id)));
    else if (!cancelledNext) answered = !!(await sentinel(i));
    if (answered) lastSent = i;
    if (!answered) {
      checks.fail(`line ${i + 1} answered`, exitInfo ? `server exited ${oneLine(exitInfo)}`
        : `no answer${isRequest ? '' : ' to the sentinel ping after it'} within ${STEP_TIMEOUT_MS} ms; stopping`);
      stopped = true;
      return;
    }
  }
  currentStep = steps.length;
}

// What happened to step i: responses carrying the line's id, plus id-less/null-id/unknown-id
// responses received while the step was current.
function windowOf(i) {
  return received.filter((r) => r.step === i && isResponse(r.msg)
    && !(typeof r.msg.id === 'string' && syncIds.has(r.msg.id))).map((r) => r.msg);
}

function evaluate() {
  for (let i = 0; i <= lastSent; i++) {
    const { raw, obj } = steps[i];
    const win = windowOf(i);
    const label = `line ${i + 1}`;
    if (obj === undefined) {
      // malformed JSON -> -32700 with "id": null (JSON-RPC 2.0 §5: the id could not be read)
      const err = win.find((m) => m.error?.code === -32700);
      if (!err && win.length === 0 && ALLOW_SILENT_DROP) checks.info(`${label} parse error: no answer (tolerated: RAW_ALLOW_SILENT_DROP=1)`);
      else if (!err) checks.fail(`${label} parse error -> -32700`, win.length ? `got ${oneLine(win)}` : 'no answer');
      else checks.check(`${label} parse error -> -32700`, 'id' in err && err.id === null, `error carries ${'id' in err ? `"id": ${oneLine(err.id)}` : 'no "id"'} (must be "id": null)`);
      continue;
    }
    if (Array.isArray(obj)) {
      const ids = obj.map((o) => o?.id);
      const successes = received.filter((r) => isResponse(r.msg) && 'result' in r.msg && ids.some((id) => sameId(id, r.msg.id)));
      const err = win.find((m) => m.error?.code === -32600);
      if (!err && win.length === 0 && successes.length === 0 && ALLOW_SILENT_DROP) {
        checks.info(`${label} batch: no answer (tolerated: RAW_ALLOW_SILENT_DROP=1)`);
        continue;
      }
      checks.check(`${label} batch -> -32600`, err && successes.length === 0,
        successes.length ? `batch members were executed: ${oneLine(successes.map((s) => s.msg.id))}`
          : `expected an error -32600, got ${win.length ? oneLine(win) : 'no answer'}`);
      continue;
    }
    if (typeof obj.method !== 'string') continue;
    if (!('id' in obj)) {
      // notification: must not be answered (anything in its window is a stray answer)
      const stray = win.filter((m) => !('id' in m) || m.id === null);
      checks.check(`${label} ${obj.method} (notification) not answered`, stray.length === 0, `answered: ${oneLine(stray)}`);
      continue;
    }
    if (obj.id === null) {
      const success = received.find((r) => isResponse(r.msg) && r.msg.id === null && 'result' in r.msg);
      const errs = win.filter((m) => 'error' in m);
      const why = success ? `answered with a success: ${oneLine(success.msg)}`
        : errs.length && !errs.some((m) => m.error.code === -32600) ? `error code ${errs[0].error.code}, expected -32600` : null;
      checks.check(`${label} id:null -> -32600 or no answer`, !why, why, errs.length ? `-32600` : 'no answer');
      continue;
    }
    if (obj.jsonrpc !== '2.0') {
      const resp = received.find((r) => byId(obj.id)(r.msg))?.msg ?? win.find((m) => 'error' in m);
      const why = resp && 'result' in resp ? `answered with a success: ${oneLine(resp)}`
        : resp && resp.error?.code !== -32600 ? `error code ${resp.error?.code}, expected -32600` : null;
      checks.check(`${label} missing jsonrpc -> -32600 or no answer`, !why, why, resp ? '-32600' : 'no answer');
      continue;
    }
    const resp = received.find((r) => byId(obj.id)(r.msg))?.msg;
    const name = `${label} ${obj.method}${obj.params?.name ? ` ${obj.params.name}` : ''} id=${JSON.stringify(obj.id)}`;
    expectFor(name, obj, resp, win);
  }
}

function expectFor(name, req, resp, win) {
  const id = req.id;
  const cancelled = steps.some((s) => s.obj?.method === 'notifications/cancelled' && sameId(s.obj?.params?.requestId, id));
  if (cancelled) {
    checks.info(`${name}: cancelled; ${resp ? `answered anyway (${'error' in resp ? `error ${resp.error.code}` : 'result'}) - allowed race` : 'not answered (preferred)'}`);
    checkProgress(req);
    return;
  }
  if (!resp) {
    checks.fail(name, win.length ? `no answer with this id; got ${oneLine(win)}` : 'no answer');
    return;
  }
  if (id === 1 && req.method === 'initialize') {
    checks.check(`${name} -> 2025-11-25`, resp.result?.protocolVersion === '2025-11-25', `got ${oneLine(resp)}`);
  } else if (id === 'e-unknown-method') {
    checks.check(`${name} -> -32601`, resp.error?.code === -32601, `got ${oneLine(resp)}`);
  } else if (id === 'e-unknown-tool') {
    checks.check(`${name} -> -32602`, resp.error?.code === -32602,
      `got ${oneLine(resp)}${resp.result?.isError ? ' (tool error; SDK v1 style, spec wants JSON-RPC -32602)' : ''}`);
  } else if (id === 'e-bad-type') {
    checks.check(`${name} -> isError`, resp.result?.isError === true, `got ${oneLine(resp)}`);
  } else if (req.method === 'ping') {
    checks.check(`${name} -> {}`, resp.result && typeof resp.result === 'object', `got ${oneLine(resp)}`);
  } else {
    checks.check(name, true);
  }
}

// Progress for a token: strictly increasing, and nothing after the request's response.
function checkProgress(req) {
  const token = req.params?._meta?.progressToken;
  if (token === undefined) return;
  const idx = received.findIndex((r) => byId(req.id)(r.msg));
  const prog = received.map((r, i) => ({ ...r, i }))
    .filter((r) => r.msg.method === 'notifications/progress' && sameId(r.msg.params?.progressToken, token));
  let last = -Infinity;
  const why = [];
  for (const p of prog) {
    const v = p.msg.params?.progress;
    if (typeof v !== 'number' || !(v > last)) why.push(`progress not strictly increasing (${last} -> ${v})`);
    last = v;
    if (idx >= 0 && p.i > idx) why.push('progress after the response');
  }
  checks.check(`progress ${JSON.stringify(token)}`, why.length === 0, why.join('; '), `${prog.length} notification(s)`);
}

async function huge() {
  currentStep = 'huge';
  const id = 'e-huge';
  sentIds.add(safeJson(id));
  const prefix = `{"jsonrpc":"2.0","id":"${id}","method":"tools/call","params":{"name":"audit_query","arguments":{"limit":5,"code":"`;
  const suffix = '"}}}';
  const line = prefix + 'A'.repeat(Math.max(0, HUGE_BYTES - prefix.length - suffix.length)) + suffix;
  const t0 = performance.now();
  const wrote = await write(line);
  if (!wrote) {
    checks.fail('huge line', `could not write ${line.length} bytes (server exited? ${oneLine(exitInfo)})`);
    return;
  }
  const resp = await waitFor((m) => isResponse(m) && (sameId(m.id, id) || (!('id' in m) || m.id === null)));
  const ms = Math.round(performance.now() - t0);
  if (!resp) {
    checks.fail('huge line answered', exitInfo ? `server exited ${oneLine(exitInfo)}` : `no answer in ${STEP_TIMEOUT_MS} ms`);
  } else {
    const what = 'error' in resp ? `error ${resp.error.code}${'id' in resp ? '' : ' without id'}` : resp.result?.isError ? 'isError' : 'result';
    checks.ok('huge line answered', `${(line.length / 1048576).toFixed(1)} MiB, ${what}, ${ms} ms`);
  }
  const ping = await (async () => {
    const pid = 'e-ping-after-huge';
    sentIds.add(safeJson(pid));
    if (!(await write(JSON.stringify({ jsonrpc: '2.0', id: pid, method: 'ping' })))) return null;
    return waitFor(byId(pid));
  })();
  checks.check('alive after huge line', ping && 'result' in ping, exitInfo ? `server exited ${oneLine(exitInfo)}` : `ping: ${oneLine(ping) || 'no answer'}`);
}

async function shutdown() {
  currentStep = 'eof';
  const t0 = performance.now();
  child.stdin.end();
  if (!exitInfo) {
    await new Promise((resolve) => {
      const t = setTimeout(resolve, EXIT_TIMEOUT_MS);
      exitWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }
  if (!exitInfo) {
    checks.fail('exit on stdin EOF', `still running ${EXIT_TIMEOUT_MS} ms after stdin was closed; killing`);
    child.kill('SIGKILL');
    await new Promise((r) => { if (exitInfo) r(); else exitWaiters.push(r); });
    return;
  }
  const ms = Math.round(exitInfo.at - t0);
  checks.check('exit on stdin EOF', exitInfo.code === 0 && exitInfo.signal === null,
    `exit code ${exitInfo.code}, signal ${exitInfo.signal}`, `status 0 in ${Math.max(ms, 0)} ms`);
}

try {
  await run();
  evaluate();
  if (!exitInfo && !stopped) await huge();
  else if (exitInfo) checks.fail('server alive after edge cases', `exited early: ${oneLine(exitInfo)}`);
} catch (e) {
  checks.fail('unexpected', e?.stack ?? e);
}
await shutdown();
await sleep(20); // let the last stdout bytes drain
if (pending.length) {
  badLines++;
  badSamples.push(`unterminated trailing output: ${oneLine(pending.toString('utf8')).slice(0, 160)}`);
}
// Responses for ids we never sent, and server->client requests (fasten-mcp sends none).
const unknown = received.filter((r) => isResponse(r.msg) && 'id' in r.msg && r.msg.id !== null && !sentIds.has(safeJson(r.msg.id)));
checks.check('no responses to unknown ids', unknown.length === 0, oneLine(unknown.map((u) => u.msg)));
const serverRequests = received.filter((r) => 'method' in r.msg && 'id' in r.msg);
if (serverRequests.length) checks.info(`server sent ${serverRequests.length} request(s): ${oneLine(serverRequests.map((r) => r.msg.method))}`);
checks.check('stdout is pure JSON-RPC', badLines === 0, `bad_stdout_lines=${badLines}; ${badSamples.join(' | ')}`,
  `${received.length} messages, bad_stdout_lines=0`);
if (stdinErrors.length) checks.info(`stdin errors: ${oneLine(stdinErrors[0])}`);
process.exit(checks.summary());
