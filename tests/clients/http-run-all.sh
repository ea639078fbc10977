#!/usr/bin/env bash
# Runs every real MCP client against `fasten-mcp serve --http` (docs/mcp.md §6, §7, §9):
# SDK v1 HTTP client (legacy), SDK v2 client (2026-07-28, auto, legacy), Inspector CLI (legacy,
# modern, auto, no token -> exit 3), mcp-remote the way Claude Desktop runs it (default and
# --protocol auto), tenant isolation between two tokens, raw curl probes of the security and
# framing rules, and the conformance suites (0.1.16 with baseline.yml, alpha 2026-07-28).
#
# usage: tests/clients/http-run-all.sh BINARY [STORE]
#   BINARY  the fasten-mcp binary (or anything with the same CLI: `node v2/ref-http.mjs` via a wrapper)
#   STORE   a store DSN (sqlite:////abs/demo.db, postgres://…) holding the demo data; default: a
#           fresh `BINARY demo --out <tmp>/demo.db`. `pg`: that demo store copied into a throwaway
#           cluster (scripts/pg-cluster.sh start DIR; scripts/pg-load-demo.sh DB DSN), stopped at exit.
# env:   SKIP=<comma list of step names to skip: v1,v2,inspector,mcp-remote,isolation,probes,conformance>
#        KEEP=1 keeps the work directory (server log, conformance results)
# Installs the pinned npm packages (npm ci) only where node_modules is missing. Prints one
# "=== step: passed/FAILED" line per step, then "N passed, M failed"; exits non-zero on any failure.
set -u

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
  echo "usage: $0 BINARY [STORE_DSN | pg]" >&2
  exit 2
fi
bin="$1"
store="${2:-}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
t0=$SECONDS

for d in "$here" "$here/v2" "$here/inspector" "$here/node22" "$here/conformance-alpha"; do
  if [ ! -d "$d/node_modules" ]; then
    echo "# npm ci in $d"
    if ! (cd "$d" && npm ci --no-audit --no-fund --loglevel=error); then
      echo "FAIL npm ci in $d"
      echo "0 passed, 1 failed"
      exit 1
    fi
  fi
done

work="$(mktemp -d /tmp/fasten-http-clients-XXXXXX)"
server_pid=""
pg_dir=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null
  fi
  if [ -n "$pg_dir" ]; then
    "$repo/scripts/pg-cluster.sh" stop "$pg_dir" >/dev/null 2>&1
    [ "${KEEP:-0}" = "1" ] || rm -rf "$pg_dir"
  fi
  if [ "${KEEP:-0}" = "1" ]; then echo "# kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

die() {
  echo "FAIL $*"
  [ -s "$work/server.log" ] && { echo "# server log (last 20 lines):"; tail -20 "$work/server.log" | sed 's/^/#   /'; }
  echo "0 passed, 1 failed"
  exit 1
}

# ---- store -------------------------------------------------------------------------------------
case "$store" in
  "")
    "$bin" demo --out "$work/demo.db" >/dev/null || die "$bin demo --out $work/demo.db"
    dsn="sqlite:///$work/demo.db"
    ;;
  pg)
    [ -x "$repo/scripts/pg-cluster.sh" ] && [ -x "$repo/scripts/pg-load-demo.sh" ] \
      || die "STORE=pg needs scripts/pg-cluster.sh and scripts/pg-load-demo.sh"
    "$bin" demo --out "$work/demo.db" >/dev/null || die "$bin demo --out $work/demo.db"
    pg_dir="$(mktemp -d /tmp/fasten-http-pg-XXXXXX)" # its own directory: as root it is handed to the postgres user
    dsn="$("$repo/scripts/pg-cluster.sh" start "$pg_dir" 2>"$work/pg-start.log" | tail -1)"
    [ -n "$dsn" ] || die "scripts/pg-cluster.sh start $pg_dir: $(tail -3 "$work/pg-start.log")"
    "$repo/scripts/pg-load-demo.sh" "$work/demo.db" "$dsn" >"$work/pg-load.log" 2>&1 \
      || die "scripts/pg-load-demo.sh $work/demo.db $dsn: $(tail -3 "$work/pg-load.log")"
    ;;
  *) dsn="$store" ;;
esac
echo "# store $dsn"

# ---- tokens ------------------------------------------------------------------------------------
tokens="$work/tokens"
new_token() {
  local out
  out="$("$bin" token add --tenant "$1" --tokens "$tokens" 2>"$work/token-$1.err")" \
    || die "$bin token add --tenant $1 --tokens $tokens: $(cat "$work/token-$1.err")"
  # The token is the last word printed on stdout.
  printf '%s\n' "$out" | awk 'NF { last = $NF } END { print last }'
}
tok_a="$(new_token acme)"
tok_b="$(new_token globex)"
[ -n "$tok_a" ] && [ -n "$tok_b" ] && [ "$tok_a" != "$tok_b" ] || die "token add printed no usable tokens ('$tok_a', '$tok_b')"

# ---- server ------------------------------------------------------------------------------------
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
url="http://127.0.0.1:$port/mcp"
"$bin" serve --http "127.0.0.1:$port" --store "$dsn" --tokens "$tokens" >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
ready=0
for _ in $(seq 100); do
  kill -0 "$server_pid" 2>/dev/null || die "server exited during start-up (status $(wait "$server_pid"; echo $?))"
  if curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port/healthz" | grep -q '^200$'; then ready=1; break; fi
  sleep 0.1
done
[ "$ready" = 1 ] || die "no 200 from http://127.0.0.1:$port/healthz within 10 s"
echo "# server pid $server_pid on $url (ready after $((SECONDS - t0)) s)"

# ---- steps -------------------------------------------------------------------------------------
LIMIT=()
command -v timeout >/dev/null 2>&1 && LIMIT=(timeout --kill-after=5 "${CLIENT_TIMEOUT_S:-120}")
passed=0
failed=0
failed_names=()
skip() { case ",${SKIP:-}," in *",$1,"*) return 0;; esac; return 1; }
run() {
  local name="$1"; shift
  echo "=== $name"
  local start=$SECONDS
  local cmd=("${LIMIT[@]}" "$@")
  declare -F "$1" >/dev/null && cmd=("$@") # shell functions bound their own commands
  if "${cmd[@]}"; then
    passed=$((passed + 1))
    echo "=== $name: passed ($((SECONDS - start)) s)"
  else
    local rc=$?
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "=== $name: FAILED (exit $rc, $((SECONDS - start)) s)"
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "FAIL server process is gone after step '$name'"
    failed=$((failed + 1)); failed_names+=("server died after $name")
    tail -20 "$work/server.log" | sed 's/^/#   /'
    echo "$passed passed, $failed failed"
    exit 1
  fi
}

export MCP_INSPECTOR_SECRET_STORE=memory MCP_REMOTE_CONFIG_DIR="$work/mcp-remote"
inspector() { timeout --kill-after=5 30 "$here/inspector/node_modules/.bin/mcp-inspector" "$@"; }

# Inspector CLI: legacy tools/list + tools/call with the header, modern and auto through a config
# file (protocolEra), and exit code 3 without a token.
inspector_steps() {
  local rc=0 out code
  out="$(inspector --cli "$url" --transport http --header "Authorization: Bearer $tok_a" --method tools/list --format json 2>"$work/insp.err")"
  code=$?
  if [ "$code" = 0 ] && [ "$(printf '%s' "$out" | jq '.result.tools | length')" -ge 9 ] 2>/dev/null; then
    echo "ok inspector tools/list ($(printf '%s' "$out" | jq -c '[.result.tools[].name]'); $(grep -i portability "$work/insp.err" | head -1))"
  else echo "FAIL inspector tools/list: exit $code: $(printf '%s' "$out" | head -c 300) $(head -c 300 "$work/insp.err")"; rc=1; fi

  out="$(inspector --cli "$url" --transport http --header "Authorization: Bearer $tok_a" --method tools/call \
    --tool-name audit_query --tool-arg limit=2 --format json 2>"$work/insp.err")"
  code=$?
  if [ "$code" = 0 ] && [ "$(printf '%s' "$out" | jq '.result.structuredContent.rows | length')" = 2 ] 2>/dev/null \
    && [ "$(printf '%s' "$out" | jq '.result.isError // false')" = false ]; then
    echo "ok inspector tools/call audit_query limit=2"
  else echo "FAIL inspector tools/call audit_query: exit $code: $(printf '%s' "$out" | head -c 300) $(head -c 300 "$work/insp.err")"; rc=1; fi

  cat >"$work/eras.json" <<EOF
{ "mcpServers": {
  "fasten-modern": { "type": "streamable-http", "url": "$url", "headers": { "Authorization": "Bearer $tok_a" }, "protocolEra": "modern" },
  "fasten-auto":   { "type": "streamable-http", "url": "$url", "headers": { "Authorization": "Bearer $tok_a" }, "protocolEra": "auto" },
  "fasten-legacy": { "type": "streamable-http", "url": "$url", "headers": { "Authorization": "Bearer $tok_a" }, "protocolEra": "legacy" } } }
EOF
  local era want
  for era in modern auto legacy; do
    want=2026-07-28; [ "$era" = legacy ] && want=2025-11-25
    out="$(inspector --cli --config "$work/eras.json" --server "fasten-$era" --method initialize --format json 2>"$work/insp.err")"
    code=$?
    if [ "$code" = 0 ] && [ "$(printf '%s' "$out" | jq -r '.result.protocolVersion')" = "$want" ]; then
      echo "ok inspector initialize protocolEra=$era ($want)"
    else echo "FAIL inspector initialize protocolEra=$era: exit $code, expected protocolVersion $want: $(printf '%s' "$out" | head -c 300) $(head -c 300 "$work/insp.err")"; rc=1; fi
  done
  out="$(inspector --cli --config "$work/eras.json" --server fasten-modern --method tools/call --tool-name audit_query --tool-arg limit=2 --format json 2>"$work/insp.err")"
  code=$?
  if [ "$code" = 0 ] && [ "$(printf '%s' "$out" | jq '.result.structuredContent.rows | length')" = 2 ] 2>/dev/null; then
    echo "ok inspector tools/call audit_query (modern)"
  else echo "FAIL inspector tools/call audit_query (modern): exit $code: $(printf '%s' "$out" | head -c 300) $(head -c 300 "$work/insp.err")"; rc=1; fi

  inspector --cli "$url" --transport http --header "Authorization: Bearer $tok_a" --method tools/list --strict --format json \
    >/dev/null 2>"$work/insp.err"
  code=$?
  if [ "$code" = 0 ]; then echo "ok inspector tools/list --strict (schema portability: $(tail -1 "$work/insp.err"))"
  else echo "FAIL inspector tools/list --strict: exit $code (6 = error-severity schema problems): $(grep -A3 -i '^error' "$work/insp.err" | head -c 600)"; rc=1; fi

  out="$(inspector --cli "$url" --transport http --method tools/list --format json </dev/null 2>&1)"
  code=$?
  if [ "$code" = 3 ]; then echo "ok inspector without a token exits 3 (auth required)"
  else echo "FAIL inspector without a token: exit $code, expected 3: $(printf '%s' "$out" | head -c 300)"; rc=1; fi
  return "$rc"
}

# Runs a command with its stderr (mcp-remote logs every message there) in a file, shown on failure.
stderr_on_failure() {
  local f="$work/stderr.$RANDOM"
  if "${LIMIT[@]}" "$@" 2>"$f"; then return 0; fi
  local rc=$?
  echo "# stderr (last 40 lines):"; tail -40 "$f" | sed 's/^/#   /'
  return "$rc"
}

skip v1 || run "http-client (SDK v1, legacy, bearer)" env BEARER="$tok_a" node "$here/http-client.mjs" "$url"
if ! skip v2; then
  run "v2-client http MODE=2026-07-28" env BEARER="$tok_a" MODE=2026-07-28 node "$here/v2/v2-client.mjs" http "$url"
  run "v2-client http MODE=auto" env BEARER="$tok_a" MODE=auto node "$here/v2/v2-client.mjs" http "$url"
  run "v2-client http MODE=legacy" env BEARER="$tok_a" MODE=legacy node "$here/v2/v2-client.mjs" http "$url"
fi
skip inspector || run "Inspector CLI 2.12.0" inspector_steps
if ! skip mcp-remote; then
  run "mcp-remote (Claude Desktop bridge)" stderr_on_failure env SERVER_ENV=MCP_REMOTE_CONFIG_DIR node "$here/stdio-client.mjs" \
    "$here/node_modules/.bin/mcp-remote" "$url" --header "Authorization: Bearer $tok_a"
  run "mcp-remote --protocol auto" stderr_on_failure env SERVER_ENV=MCP_REMOTE_CONFIG_DIR node "$here/stdio-client.mjs" \
    "$here/node_modules/.bin/mcp-remote" "$url" --header "Authorization: Bearer $tok_a" --protocol auto
fi
skip isolation || run "tenant isolation (acme token vs globex rows)" env TOKEN_A="$tok_a" TOKEN_B="$tok_b" node "$here/tenant-isolation.mjs" "$url"
skip probes || run "curl probes (401/403/405/413/202/400/415)" "$here/http-probes.sh" "$url" "$tok_a"
skip conformance || run "conformance suites" env BEARER="$tok_a" OUT="$work/conformance" "$here/conformance.sh" "$url"

# Tokens are never logged (docs/mcp.md §7): not in the server's stdout or stderr.
if grep -qF -e "$tok_a" -e "$tok_b" "$work/server.log" "$work/server.out" 2>/dev/null; then
  echo "FAIL a bearer token appears in the server's output"
  failed=$((failed + 1)); failed_names+=("token logged")
else
  echo "ok no bearer token in the server's output ($(wc -l <"$work/server.log") log lines)"
fi

if [ "$failed" -gt 0 ]; then
  echo "# failed: ${failed_names[*]}"
  echo "# server log (last 15 lines):"; tail -15 "$work/server.log" | sed 's/^/#   /'
fi
echo "# total $((SECONDS - t0)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
