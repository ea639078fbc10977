#!/usr/bin/env bash
# Copies a SQLite fasten store (e.g. from `fasten-mcp demo --out X.db`) into Postgres tables laid out
# as the Go Postgres store creates them, replacing tables of the same names:
#   - the audit table (audit_log, or ?table=[schema.]name in the DSN) with the source's columns
#     in their Postgres types: monotonic_seq BIGINT, pii_in_detail SMALLINT, and `timestamp` /
#     `shipped_at` TIMESTAMPTZ (or TEXT with --text-timestamps, as the C++ header sink writes them);
#   - the stream tables syslog and api_log (seq BIGINT, timestamp TEXT, status INTEGER), when the
#     source has them;
#   - the upstream single-column indexes (idx_{bare}_req, _code, _ts, _seq, _svc; stream _req,
#     _ts, _lvl, _svc, _evt, _mth, _pth, _sts), then ANALYZE.
# Data moves as CSV (sqlite3 -csv | psql \copy), NULL spelled \N so that '' stays ''.
#
# Usage: scripts/pg-load-demo.sh [--text-timestamps] SQLITE_DB POSTGRES_DSN
#   e.g. scripts/pg-load-demo.sh out/demo.db "postgres://fasten@127.0.0.1:54321/fasten"
set -euo pipefail

die() { echo "pg-load-demo: $*" >&2; exit 2; }

ts_type=TIMESTAMPTZ
if [[ "${1:-}" == --text-timestamps ]]; then ts_type=TEXT; shift; fi
[[ $# -eq 2 ]] || die "usage: pg-load-demo.sh [--text-timestamps] SQLITE_DB POSTGRES_DSN"
db="$1"
dsn="$2"
[[ -f "$db" ]] || die "no such SQLite file: $db"
command -v sqlite3 >/dev/null || die "sqlite3 is not installed (apt-get install sqlite3)"
command -v psql >/dev/null || die "psql is not installed (apt-get install postgresql-client)"

# fasten's own DSN parameters (table, wal, statement_timeout) are not libpq's: split them off.
base="${dsn%%\?*}"
query=""
[[ "$dsn" == *\?* ]] && query="${dsn#*\?}"
table=audit_log
rest=()
IFS='&' read -r -a parts <<<"$query"
for p in "${parts[@]}"; do
  case "$p" in
    table=*) table="${p#table=}" ;;
    wal=* | statement_timeout=*) ;;
    "") ;;
    *) rest+=("$p") ;;
  esac
done
conn="$base"
if [[ ${#rest[@]} -gt 0 ]]; then conn="$base?$(IFS='&'; echo "${rest[*]}")"; fi
[[ "$table" =~ ^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$ ]] || die "invalid table name '$table'"
bare="${table##*.}"

psql_run() { PGOPTIONS="-c client_min_messages=warning" psql "$conn" -X -q -v ON_ERROR_STOP=1 "$@"; }

src_audit=audit_log
if ! sqlite3 "$db" "SELECT 1 FROM sqlite_master WHERE type='table' AND name='audit_log'" | grep -q 1; then
  src_audit=fasten_audit
fi

pg_type() {  # column name -> Postgres column definition
  case "$1" in
    id) echo "TEXT PRIMARY KEY" ;;
    monotonic_seq) echo "BIGINT NOT NULL" ;;
    timestamp) echo "$ts_type NOT NULL" ;;
    shipped_at) echo "$ts_type" ;;
    tenant_id | detail_salt | detail_commitment) echo "TEXT" ;;
    pii_in_detail) echo "SMALLINT NOT NULL DEFAULT 0" ;;
    wire_version) echo "TEXT NOT NULL DEFAULT '1'" ;;
    hash) echo "TEXT NOT NULL DEFAULT ''" ;;
    prev_hash) echo "TEXT NOT NULL DEFAULT 'genesis'" ;;
    canonical_form_id) echo "TEXT NOT NULL DEFAULT '1'" ;;
    *) echo "TEXT NOT NULL" ;;
  esac
}

copy_table() {  # SRC DEST COLUMNS
  sqlite3 -csv -header -nullvalue '\N' "$db" "SELECT $3 FROM $1 ORDER BY rowid" |
    psql_run -c "\\copy $2 ($3) FROM pstdin WITH (FORMAT csv, HEADER true, NULL '\\N')"
}

mapfile -t cols < <(sqlite3 "$db" "SELECT name FROM pragma_table_info('$src_audit')")
[[ ${#cols[@]} -gt 0 ]] || die "no audit table in $db"
ddl=""
for c in "${cols[@]}"; do ddl+="${ddl:+, }$c $(pg_type "$c")"; done
collist="$(IFS=,; echo "${cols[*]}")"
schema_sql=""
[[ "$table" == *.* ]] && schema_sql="CREATE SCHEMA IF NOT EXISTS ${table%%.*};"
psql_run -c "$schema_sql DROP TABLE IF EXISTS $table; CREATE TABLE $table ($ddl);"
copy_table "$src_audit" "$table" "$collist"
idx=""
for pair in req:request_id code:code ts:timestamp seq:monotonic_seq svc:service_id; do
  idx+="CREATE INDEX IF NOT EXISTS idx_${bare}_${pair%%:*} ON $table (${pair#*:});"
done
psql_run -c "$idx ANALYZE $table;"
rows="$(psql_run -At -c "SELECT count(*) FROM $table")"
echo "loaded $rows rows into $table ($ts_type timestamps)"

for stream in syslog api_log; do
  if ! sqlite3 "$db" "SELECT 1 FROM sqlite_master WHERE type='table' AND name='$stream'" | grep -q 1; then
    continue
  fi
  psql_run -c "DROP TABLE IF EXISTS $stream; CREATE TABLE $stream (seq BIGSERIAL PRIMARY KEY,
    request_id TEXT, timestamp TEXT, level TEXT, service_id TEXT, event TEXT, method TEXT,
    path TEXT, status INTEGER, payload TEXT NOT NULL);"
  copy_table "$stream" "$stream" "seq,request_id,timestamp,level,service_id,event,method,path,status,payload"
  idx="SELECT setval(pg_get_serial_sequence('$stream', 'seq'), GREATEST((SELECT max(seq) FROM $stream), 1));"
  for pair in req:request_id ts:timestamp lvl:level svc:service_id evt:event mth:method pth:path sts:status; do
    idx+="CREATE INDEX IF NOT EXISTS idx_${stream}_${pair%%:*} ON $stream (${pair#*:});"
  done
  psql_run -c "$idx ANALYZE $stream;" >/dev/null
  echo "loaded $(psql_run -At -c "SELECT count(*) FROM $stream") rows into $stream"
done
