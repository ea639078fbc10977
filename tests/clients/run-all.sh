#!/usr/bin/env bash
# Runs every MCP client test in tests/clients against one stdio server command line.
#
# usage: tests/clients/run-all.sh <server command> [args...]
#   e.g. tests/clients/run-all.sh "$PWD/build/fasten-mcp" serve --store "sqlite:///$PWD/out/demo.db" --tenant acme
#        tests/clients/run-all.sh node tests/clients/v2/ref-server.mjs     # SDK v2 reference server
# Installs the pinned npm packages (npm ci) only when node_modules is missing.
# Prints one "ok"/"FAIL" line per check, then "N passed, M failed" over the client scripts;
# exits non-zero if any client script failed.
set -u

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <server command> [args...]" >&2
  exit 2
fi

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for d in "$DIR" "$DIR/v2"; do
  if [ ! -d "$d/node_modules" ]; then
    echo "# npm ci in $d"
    if ! (cd "$d" && npm ci --no-audit --no-fund); then
      echo "FAIL npm ci in $d" >&2
      echo "0 passed, 1 failed"
      exit 1
    fi
  fi
done

# Belt and braces on top of each script's own watchdog.
LIMIT=()
if command -v timeout >/dev/null 2>&1; then
  LIMIT=(timeout --kill-after=5 "${CLIENT_TIMEOUT_S:-300}")
fi

passed=0
failed=0
failed_names=()

run() {
  local name="$1"; shift
  echo "=== $name"
  local start=$SECONDS
  if "${LIMIT[@]}" "$@"; then
    passed=$((passed + 1))
    echo "=== $name: passed ($((SECONDS - start)) s)"
  else
    local rc=$?
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "=== $name: FAILED (exit $rc, $((SECONDS - start)) s)"
  fi
}

run "stdio-client (SDK v1, legacy)" node "$DIR/stdio-client.mjs" "$@"
run "v2-client MODE=2026-07-28" env MODE=2026-07-28 node "$DIR/v2/v2-client.mjs" stdio "$@"
run "v2-client MODE=auto" env MODE=auto node "$DIR/v2/v2-client.mjs" stdio "$@"
run "v2-client MODE=legacy" env MODE=legacy node "$DIR/v2/v2-client.mjs" stdio "$@"
run "raw-stdio" node "$DIR/raw-stdio.mjs" "$DIR/edge-cases.jsonl" "$@"

if [ "$failed" -gt 0 ]; then
  echo "# failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
