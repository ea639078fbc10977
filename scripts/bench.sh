#!/usr/bin/env bash
# Benchmarks (not part of the tests): builds with -DFASTEN_BUILD_BENCH=ON, generates a 1 M-row and
# a 250 k-row demo store under out/bench/ (reused when present), and prints the verify figures
# with the limits measured in the same run. Usage: scripts/bench.sh [ROWS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
runs="${2:-5}"
scripts/install-deps.sh
# The README's build (build/, Release), with the benchmark programs added: bench/ measures the
# very binary scripts/demo.sh builds.
scripts/build.sh build -DFASTEN_BUILD_BENCH=ON
mkdir -p out/bench
big="out/bench/demo-${rows}.db"
small="out/bench/demo-$((rows / 4)).db"
[ -f "$big" ] || { echo "generating $big"; build/fasten-mcp demo --out "$big" --audit-rows "$rows"; }
[ -f "$small" ] || { echo "generating $small"; build/fasten-mcp demo --out "$small" --audit-rows "$((rows / 4))"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "sqlite $(sqlite3 --version | cut -d' ' -f1), $(openssl version), $(python3 --version)"
build/bench/verify_bench --store "$big" --small "$small" --runs "$runs" \
  --binary build/fasten-mcp --peer scripts/fasten_peer.py --python python3
# Evidence packs (issue 14): pack and verify-pack of a 100 k-row demo store against plain verify,
# and their peak RSS at 250 k and 1 M rows (the bench makes the stores under out/bench/).
build/bench/pack_bench --binary build/fasten-mcp --dir out/bench --rows 100000 \
  --runs "$runs"
# The citation validator (issue 5) and, by default, the integrity verdict of a one-node, one-hour
# window (issue 13: 300 runs, --verdict-runs) and of the default answer window (--default-runs 3).
build/bench/validate_bench --store "$big" --runs 10000
# Signed checkpoints (issue 14): a periodic checkpoint against 50 ms, verify --checkpoints
# against plain verify (<= 1.05x), and verify --checkpoints' RSS on both stores (flat). Works on
# copies under out/bench/checkpoint/ (the node index `index --apply` creates, keys, logs).
build/bench/checkpoint_bench --store "$big" --small "$small" --work out/bench/checkpoint \
  --runs 20 --verify-runs "$runs" --log-checkpoints 100 --binary build/fasten-mcp
build/bench/stdio_bench --binary build/fasten-mcp --store "$big" --calls 10000 --runs 3
build/bench/http_bench --binary build/fasten-mcp --store "$big" --calls 10000 --runs 3 \
  --load --clients 64 --seconds 60
# fasten-mcp vs @modelcontextprotocol/server-postgres on one throwaway Postgres holding the
# 250 k-row demo store (npm package from tests/clients/server-postgres's lockfile).
(cd tests/clients/server-postgres && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error)
pgdir="$(mktemp -d /tmp/fasten-bench-pg-XXXXXX)"
trap 'scripts/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
dsn="$(scripts/pg-cluster.sh start "$pgdir" | tail -1)"
scripts/pg-load-demo.sh "$small" "$dsn" >/dev/null
build/bench/pg_compare_bench --binary build/fasten-mcp --pg-dsn "$dsn" \
  --server-postgres tests/clients/server-postgres/node_modules/@modelcontextprotocol/server-postgres/dist/index.js \
  --ids-from "$small" --calls 3000 --runs 3
# The cross-tenant timing probe (issue 12, docs/security.md): acme's calls for a value only
# globex uses (300 k rows) against an unused value, without and with `index --apply`'s indexes,
# on SQLite and on a database of its own in the same Postgres cluster.
scripts/pg-cluster.sh psql "$pgdir" -q -c "DROP DATABASE IF EXISTS tenant_timing" -c "CREATE DATABASE tenant_timing" >/dev/null
build/bench/tenant_timing_bench --sqlite out/bench/tenant-timing.db \
  --pg-dsn "${dsn%/fasten}/tenant_timing" --rows 300000 --runs 100
