#!/usr/bin/env bash
# The main job on the embedded default: build, write the demo store, verify it, show one incident,
# then show that a tampered copy is caught. Installs and builds only what it runs: the build
# dependencies and the fasten-mcp binary (the tests are configured by scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --build
BUILD_TARGETS=fasten-mcp scripts/build.sh build -DFASTEN_BUILD_TESTS=OFF
mkdir -p out
bin=build/fasten-mcp
store="$PWD/out/demo.db"

echo; echo "== fasten-mcp demo --out $store --force"
$bin demo --out "$store" --force
echo; echo "== fasten-mcp verify --store sqlite:///$store"
$bin verify --store "sqlite:///$store"
echo; echo "== fasten-mcp trace 3a7b1c9e4d20 (the refund whose Stripe webhook returned 502)"
$bin trace 3a7b1c9e4d20 --store "sqlite:///$store"
echo; echo "== fasten-mcp query audit --code CONFIG_NODE_UPDATED --tenant globex"
$bin query audit --code CONFIG_NODE_UPDATED --tenant globex --store "sqlite:///$store"
echo; echo "== MCP over stdio: one tools/call (2026-07-28), as an agent host would send it"
meta='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"api_query","arguments":{"status":502,"limit":1},'"$meta"'}}' \
  | $bin serve --store "sqlite:///$store" --tenant acme --log-level error | cut -c1-400
echo; echo "== register it with Claude Desktop (fasten-mcp config claude-desktop)"
$bin config claude-desktop --store "sqlite:///$store" --tenant acme
echo "(also: fasten-mcp config claude-code | cursor | vscode)"
echo; echo "== a tampered copy: fasten-mcp demo --tamper, then verify (exit status 1 expected)"
$bin demo --out "$PWD/out/tampered.db" --tamper --force
set +e
$bin verify --store "sqlite:///$PWD/out/tampered.db"
rc=$?
set -e
echo "verify exit status: $rc"
[ "$rc" -eq 1 ]
