#!/usr/bin/env bash
# Bounded load test (loopback only): 64 keep-alive clients call `fasten-mcp serve --http` for 60 s
# (request_id lookups, row_get of real rows, tools/list). Fails on any non-200 or error answer,
# or when the server's RSS grows more than 32 MB after the first 10 s.
# Usage: http_load.sh FASTEN_MCP HTTP_LOAD [CLIENTS] [SECONDS] [RSS_GROWTH_MB]
set -euo pipefail
bin="$1" load="$2" clients="${3:-64}" seconds="${4:-60}" growth="${5:-32}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$bin" demo --out "$tmp/demo.db" --audit-rows 50000 >/dev/null
"$load" --binary "$bin" --store "$tmp/demo.db" --load-only --clients "$clients" --seconds "$seconds" \
  --rss-growth-mb "$growth"
