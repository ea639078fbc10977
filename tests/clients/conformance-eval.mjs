#!/usr/bin/env node
// Scores a `conformance server --requirements 2026-07-28 -o DIR` run (alpha suite) against
// alpha-baseline.yml at check granularity (see that file for the rules).
//
// usage: node conformance-eval.mjs <results dir> [alpha-baseline.yml]
// Reads DIR/server-<scenario>-<timestamp>/checks.json (the newest run of each scenario).
// Prints "ok <scenario>" / "FAIL <scenario>: why" lines and a summary; exits 1 on any FAIL.

import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const [dir, baselinePath = join(dirname(fileURLToPath(import.meta.url)), 'alpha-baseline.yml')] = process.argv.slice(2);
if (!dir || !existsSync(dir)) {
  console.error('usage: node conformance-eval.mjs <results dir> [alpha-baseline.yml]');
  process.exit(2);
}

// Minimal reader for the baseline's shape: top-level keys holding a list, or a map of lists.
function readBaseline(text) {
  const out = {};
  let top;
  let sub;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').replace(/^#.*$/, '');
    if (!line.trim()) continue;
    let m;
    if ((m = /^([\w-]+):\s*$/.exec(line))) { top = m[1]; sub = undefined; out[top] = undefined; continue; }
    if ((m = /^ {2}([\w-]+):\s*$/.exec(line))) { out[top] ??= {}; sub = m[1]; out[top][sub] = []; continue; }
    if ((m = /^\s*-\s+(\S+)\s*$/.exec(line))) {
      if (sub !== undefined && /^ {4}/.test(line)) out[top][sub].push(m[1]);
      else { out[top] ??= []; out[top].push(m[1]); }
      continue;
    }
    throw new Error(`${baselinePath}: cannot read line: ${raw}`);
  }
  return { required: out.required ?? [], checks: out.checks ?? {}, scenarios: out.scenarios ?? [] };
}

const baseline = readBaseline(readFileSync(baselinePath, 'utf8'));

// Newest result directory per scenario.
const runs = new Map();
for (const d of readdirSync(dir)) {
  const m = /^server-(.+)-(\d{4}-\d\d-\d\dT[\d-]+Z)$/.exec(d);
  if (!m || !existsSync(join(dir, d, 'checks.json'))) continue;
  const prev = runs.get(m[1]);
  if (!prev || prev.ts < m[2]) runs.set(m[1], { ts: m[2], path: join(dir, d, 'checks.json') });
}

let failed = 0;
let passedChecks = 0;
let failedChecks = 0;
let allowedChecks = 0;
const fail = (s, why) => { failed++; console.log(`FAIL ${s}: ${why}`); };
const short = (c) => `${c.id}${c.errorMessage || c.details?.message ? ` (${String(c.errorMessage ?? c.details.message).replace(/\s+/g, ' ').slice(0, 160)})` : ''}`;

for (const s of baseline.required) {
  if (!runs.has(s)) fail(s, 'required scenario did not run (no checks.json)');
}
for (const [s, { path }] of [...runs.entries()].sort()) {
  const checks = JSON.parse(readFileSync(path, 'utf8'));
  const failures = checks.filter((c) => c.status === 'FAILURE');
  const warnings = checks.filter((c) => c.status === 'WARNING');
  passedChecks += checks.filter((c) => c.status === 'SUCCESS').length;
  failedChecks += failures.length;
  const warn = warnings.length ? `; ${warnings.length} warning(s): ${warnings.map((c) => c.id).join(', ')}` : '';
  if (baseline.scenarios.includes(s)) {
    allowedChecks += failures.length;
    if (failures.length === 0) fail(s, 'listed under scenarios in the baseline but now passes (stale entry: remove it)');
    else console.log(`# ${s}: expected failure (${failures.length} failing check(s))`);
    continue;
  }
  const allowed = baseline.checks[s] ?? [];
  const unexpected = failures.filter((c) => !allowed.includes(c.id));
  allowedChecks += failures.length - unexpected.length;
  const stale = allowed.filter((id) => checks.some((c) => c.id === id && c.status === 'SUCCESS'));
  if (unexpected.length) fail(s, `${unexpected.length} unexpected failing check(s): ${unexpected.map(short).join('; ')}${warn}`);
  else if (stale.length) fail(s, `baseline check(s) now pass (stale: remove them): ${stale.join(', ')}`);
  else {
    const note = failures.length ? `, ${failures.length} allowed by the baseline` : '';
    console.log(`ok ${s} (${checks.filter((c) => c.status === 'SUCCESS').length} passed${note}${warn})`);
  }
}
console.log(`# alpha 2026-07-28: ${runs.size} scenarios, ${passedChecks} checks passed, ${failedChecks} failed (${allowedChecks} expected by ${baselinePath.split('/').pop()}); ${failed} unexpected`);
process.exit(failed ? 1 : 0);
