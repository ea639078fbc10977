#!/usr/bin/env bash
# End to end on Postgres: a demo store (and a tampered one) copied into a throwaway cluster with
# scripts/pg-load-demo.sh verifies exactly like the SQLite original, list and trace output agree
# between the backends, and `fasten-mcp index` prints, applies and then finds the indexes on both.
# Usage: pg_demo_test.sh FASTEN_MCP_BINARY
set -euo pipefail
bin="$1"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/fasten-pg-e2e-XXXXXX)"
pg="$(mktemp -d /tmp/fasten-pg-XXXXXX)"  # its own directory: handed to `postgres` when root
cleanup() {
  "$repo/scripts/pg-cluster.sh" stop "$pg" >/dev/null 2>&1 || true
  rm -rf "$work" "$pg"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

dsn="$("$repo/scripts/pg-cluster.sh" start "$pg" | tail -1)"
admin="${dsn%/*}/postgres"
psql "$admin" -X -q -c "CREATE DATABASE tampered TEMPLATE fasten"
tdsn="${dsn%/*}/tampered"

"$bin" demo --out "$work/demo.db" >/dev/null
"$bin" demo --out "$work/tampered.db" --tamper >/dev/null
"$repo/scripts/pg-load-demo.sh" "$work/demo.db" "$dsn" >/dev/null
"$repo/scripts/pg-load-demo.sh" "$work/tampered.db" "$tdsn?table=audit.events" >/dev/null

# Per-node verdicts: every node ok; the same rows as SQLite (Go nanosecond timestamps that
# TIMESTAMPTZ rounded verify under the labelled pg-us-rounding fallback).
set +e
out="$("$bin" verify --store "$dsn" --json --no-progress)"; rc=$?
set -e
[[ $rc == 0 ]] || fail "verify on Postgres exited $rc"
sqlite_json="$("$bin" verify --store "sqlite:///$work/demo.db" --json --no-progress)"
python3 - "$out" "$sqlite_json" <<'PY'
import json, sys
pg, lite = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert pg["ok"] is True, pg
by = lambda r: {n["source_node_id"]: n for n in r["nodes"]}
p, s = by(pg), by(lite)
assert p.keys() == s.keys(), (p.keys(), s.keys())
for node in s:
    assert p[node]["ok"], node
    for k in ("total_rows", "unsealed", "tip"):
        assert p[node][k] == s[node][k], (node, k, p[node][k], s[node][k])
print("verify: %d nodes agree" % len(s))
PY

set +e
tout="$("$bin" verify --store "$tdsn?table=audit.events" --no-progress)"; rc=$?
set -e
[[ $rc == 1 ]] || fail "tampered verify exited $rc, want 1: $tout"
set +e
lout="$("$bin" verify --store "sqlite:///$work/tampered.db" --no-progress)"
set -e
brk="$(grep -o "first break at seq [0-9]*" <<<"$lout")"
[[ -n "$brk" ]] || fail "SQLite reports no break on the tampered demo: $lout"
grep -q "edge-us-1 .*FAIL" <<<"$tout" || fail "edge-us-1 not reported: $tout"
grep -q "$brk" <<<"$tout" || fail "Postgres does not report '$brk' as SQLite does: $tout"
echo "tampered: $brk on both backends"

grep -q "table audit.events" <<<"$tout" || fail "schema table not named: $tout"

# Time windows resolve to the same per-node seq windows and verdicts on both backends: the
# refund hour, and the hour starting one microsecond after the tampered row (its first link holds).
after="$(python3 - "$work/tampered.db" "$brk" <<'PY'
import datetime, re, sqlite3, sys
seq = int(sys.argv[2].split()[-1])
ts = sqlite3.connect(sys.argv[1]).execute(
    "SELECT timestamp FROM audit_log WHERE source_node_id = 'edge-us-1' AND monotonic_seq = ?",
    (seq,)).fetchone()[0]
m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?", ts)
t = datetime.datetime.fromisoformat(m.group(1)).replace(
    microsecond=int(((m.group(2) or "") + "000000")[:6])) + datetime.timedelta(microseconds=1)
print(t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
PY
)"
for window in "2026-11-20T14:00:00Z 2026-11-20T15:00:00Z" "$after 2026-11-20T16:00:00Z"; do
  read -r since until <<<"$window"
  set +e
  a="$("$bin" verify --store "sqlite:///$work/tampered.db" --since "$since" --until "$until" --json --no-progress)"
  b="$("$bin" verify --store "$tdsn?table=audit.events" --since "$since" --until "$until" --json --no-progress)"
  set -e
  python3 - "$a" "$b" <<'PY' || fail "time window $window differs between SQLite and Postgres"
import json, sys
a, b = (json.loads(x) for x in sys.argv[1:3])
assert a["window"]["nodes"] and a["window"]["nodes"] == b["window"]["nodes"], (a["window"], b["window"])
key = lambda r: [(n["source_node_id"], n["ok"], n["first_break_at"], n["total_rows"]) for n in r["nodes"]]
assert key(a) == key(b), (key(a), key(b))
print("time window %s..%s: %s" % (a["window"]["since"], a["window"]["until"], key(a)))
PY
done

# The same page and trace from both backends (sys/api tables ride along in the same database).
# (core-1's Go nanosecond timestamps are rounded by TIMESTAMPTZ, so its rows are left out here.)
for args in "query audit --code REFUND_ROLLED_BACK --json" "query audit --node edge-us-1 --json" \
  "query api --status 502 --json" "query sys --level error --limit 5 --json" \
  "trace 3a7b1c9e4d20 --json"; do
  # shellcheck disable=SC2086
  a="$("$bin" $args --store "sqlite:///$work/demo.db")"
  # shellcheck disable=SC2086
  b="$("$bin" $args --store "$dsn")"
  # TIMESTAMPTZ keeps the instant, not the stored spelling: only timestamp_stored may differ.
  python3 - "$a" "$b" <<'PY' || fail "'$args' differs between SQLite and Postgres"
import json, sys
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k != "timestamp_stored"}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
a, b = (strip(json.loads(x)) for x in sys.argv[1:3])
if a != b:
    print(json.dumps(a, indent=1)[:2000], json.dumps(b, indent=1)[:2000], sep="\n----\n")
    sys.exit(1)
PY
done
echo "query/trace: identical on both backends"


# index: print, apply, and find them all afterwards, on both backends.
for store in "sqlite:///$work/demo.db" "$dsn"; do
  out="$("$bin" index --store "$store")"
  grep -q "missing  idx_audit_log_tenant_code_ts" <<<"$out" || fail "index advice on $store: $out"
  grep -q "CREATE INDEX" <<<"$out" || fail "no SQL printed for $store"
  "$bin" index --store "$store" --apply >/dev/null 2>&1 || fail "index --apply failed on $store"
  out="$("$bin" index --store "$store" --json)"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); m=[i["name"] for i in r["indexes"] if not i["exists"]]; assert not m, m' "$out" \
    || fail "indexes still missing after --apply on $store"
done
echo "index: applied and found on both backends"
echo PASS
