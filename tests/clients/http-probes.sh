#!/usr/bin/env bash
# Raw curl probes of the Streamable HTTP security and framing rules (docs/mcp.md §6-§7,
# docs/http.md) against one endpoint. On a failure it prints the exchange (request, status,
# response headers, first bytes of the body).
#
# usage: tests/clients/http-probes.sh http://127.0.0.1:PORT/mcp <valid bearer token>
# env:   OVERSIZE_BYTES  body size for the 413 probe (default 16 MiB)
# Prints "ok <probe>" / "FAIL <probe>: why"; exits 1 if any probe failed.
set -u

if [ "$#" -ne 2 ]; then
  echo "usage: $0 <url> <token>" >&2
  exit 2
fi
url="$1"
token="$2"
hostport="$(printf '%s' "$url" | sed -E 's#^https?://([^/]+).*#\1#')"
base="$(printf '%s' "$url" | sed -E 's#^(https?://[^/]+).*#\1#')"
port="${hostport##*:}"
work="$(mktemp -d /tmp/fasten-probes-XXXXXX)"
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl-probe","version":"0"}}}'
ACCEPT='Accept: application/json, text/event-stream'
CTYPE='Content-Type: application/json'

# req NAME METHOD URL BODY|@FILE|- [curl args...]: runs one request; sets $status, $hdrs, $body, $desc
req() {
  local name="$1" method="$2" u="$3" data="$4"; shift 4
  local args=(-s -S -X "$method" -D "$work/h" -o "$work/b" -w '%{http_code}' --max-time 20 "$@")
  if [ "$data" != "-" ]; then
    if [ "${data:0:1}" = "@" ]; then args+=(--data-binary "$data"); else args+=(--data-raw "$data"); fi
  fi
  rm -f "$work/h" "$work/b" "$work/e"
  status="$(curl "${args[@]}" "$u" 2>"$work/e")"
  curl_rc=$?
  hdrs="$(tr -d '\r' <"$work/h" 2>/dev/null)"
  body="$(head -c 600 "$work/b" 2>/dev/null)"
  local shown="$data"
  [ "${data:0:1}" = "@" ] && shown="<$(stat -c %s "${data:1}") bytes from ${data:1}>"
  [ "${#shown}" -gt 300 ] && shown="${shown:0:300}…"
  desc="> $method $u $(printf '%q ' "$@")${data:+ body: $shown}
< curl exit $curl_rc $(cat "$work/e" 2>/dev/null | head -c 200)
$(printf '%s\n' "$hdrs" | sed 's/^/< /')
< body: $body"
}
hdr() { printf '%s\n' "$hdrs" | grep -i "^$1:" | head -1 | sed -E "s/^[^:]+:[[:space:]]*//"; }
ok() { passed=$((passed + 1)); echo "ok $1${2:+ ($2)}"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL $1: $2"
  printf '%s\n' "$desc" | sed 's/^/    /'
}
expect_status() { # NAME WANT [extra condition result: "" = fine, else why]
  local name="$1" want="$2" why="${3:-}"
  if [ "$status" != "$want" ]; then fail "$name" "HTTP $status, expected $want"
  elif [ -n "$why" ]; then fail "$name" "$why"
  else ok "$name" "$status"; fi
}
not_html() { case "$body" in *"<html"*|*"<!DOCTYPE"*|*"<HTML"*) echo "HTML body";; esac; }
json_error_code() { printf '%s' "$body" | jq -r '.error.code // empty' 2>/dev/null; }

# ---- authentication (docs/mcp.md §7) ----------------------------------------------------------
req "no token" POST "$url" "$INIT" -H "$CTYPE" -H "$ACCEPT"
wa="$(hdr WWW-Authenticate)"
why=""
case "$wa" in Bearer*realm=*) ;; *) why="WWW-Authenticate is '${wa}', expected Bearer realm=\"…\"";; esac
case "$wa" in *resource_metadata*) why="WWW-Authenticate advertises OAuth (resource_metadata) without implementing it";; esac
[ -z "$why" ] && why="$(not_html)"
expect_status "missing token -> 401 + WWW-Authenticate: Bearer realm" 401 "$why"

req "wrong token" POST "$url" "$INIT" -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Bearer wrong-${token}x"
wa="$(hdr WWW-Authenticate)"; why=""
case "$wa" in Bearer*realm=*) ;; *) why="WWW-Authenticate is '${wa}'";; esac
expect_status "wrong token -> 401 + WWW-Authenticate: Bearer realm" 401 "$why"

req "basic scheme" POST "$url" "$INIT" -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Basic $(printf 'x:%s' "$token" | base64 -w0)"
expect_status "token under another scheme (Basic) -> 401" 401

sep='?'; case "$url" in *\?*) sep='&';; esac
req "query token" POST "${url}${sep}access_token=${token}&token=${token}" "$INIT" -H "$CTYPE" -H "$ACCEPT"
expect_status "token in the query string is not accepted -> 401" 401

req "prm" GET "$base/.well-known/oauth-protected-resource" - -H "Authorization: Bearer $token"
if [ "$status" = "200" ]; then fail "no OAuth Protected Resource Metadata advertised" "GET /.well-known/oauth-protected-resource -> 200"
else ok "no OAuth Protected Resource Metadata advertised" "$status"; fi

# ---- Host / Origin (docs/mcp.md §6): 403 before anything else, auth included --------------------
req "bad host" POST "$url" "$INIT" -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Bearer $token" -H "Host: evil.example.com"
expect_status "bad Host (valid token) -> 403" 403
req "bad host no token" POST "$url" "$INIT" -H "$CTYPE" -H "$ACCEPT" -H "Host: evil.example.com:$port"
expect_status "bad Host, no token -> 403 (checked before auth)" 403
req "bad origin" POST "$url" "$INIT" -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Bearer $token" -H "Origin: http://evil.example.com"
expect_status "bad Origin, good Host (valid token) -> 403" 403
req "null origin" POST "$url" "$INIT" -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Bearer $token" -H "Origin: null"
expect_status "Origin: null -> 403" 403
req "localhost host" POST "$url" "$INIT" -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Bearer $token" -H "Host: localhost:$port"
expect_status "Host localhost:<port> accepted -> 200" 200

# ---- a good request ---------------------------------------------------------------------------
req "initialize" POST "$url" "$INIT" -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Bearer $token"
why=""
[ -n "$(hdr Mcp-Session-Id)" ] && why="Mcp-Session-Id minted ($(hdr Mcp-Session-Id)): fasten-mcp is stateless"
[ "$(hdr Access-Control-Allow-Origin)" = "*" ] && why="Access-Control-Allow-Origin: *"
case "$(hdr Content-Type)" in application/json*|text/event-stream*) ;; *) why="${why:+$why; }Content-Type '$(hdr Content-Type)'";; esac
# The body may be JSON or one SSE event carrying the JSON.
pv="$( (jq -r '.result.protocolVersion' "$work/b" 2>/dev/null || sed -n 's/^data: *//p' "$work/b" | jq -r '.result.protocolVersion') | tail -1)"
[ "$pv" = "2025-11-25" ] || why="${why:+$why; }result.protocolVersion is '$pv', expected 2025-11-25"
expect_status "initialize (valid token) -> 200, stateless, no ACAO *" 200 "$why"

# ---- methods (docs/http.md) -------------------------------------------------------------------
req "get" GET "$url" - -H "Accept: text/event-stream" -H "Authorization: Bearer $token"
expect_status "GET /mcp -> 405" 405
req "delete" DELETE "$url" - -H "Authorization: Bearer $token" -H "Mcp-Session-Id: 0123456789abcdef"
expect_status "DELETE /mcp -> 405" 405

# ---- framing -----------------------------------------------------------------------------------
req "notification" POST "$url" '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Bearer $token" -H "MCP-Protocol-Version: 2025-11-25"
why=""; [ -s "$work/b" ] && why="body not empty"
expect_status "notification -> 202, empty body" 202 "$why"

req "malformed" POST "$url" '{"jsonrpc":"2.0","id":1,"method":"ping",' -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Bearer $token"
why="$(not_html)"
code="$(json_error_code)"
[ -z "$why" ] && [ "$code" != "-32700" ] && why="body is not a JSON-RPC error -32700"
[ -z "$why" ] && printf '%s' "$body" | jq -e 'has("id") and .id != null' >/dev/null 2>&1 && why="parse error carries a non-null id"
case "$(hdr Content-Type)" in application/json*) ;; *) why="${why:+$why; }Content-Type '$(hdr Content-Type)'";; esac
expect_status "malformed JSON -> 400 + JSON -32700 (never HTML)" 400 "$why"

req "batch" POST "$url" '[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]' -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Bearer $token" -H "MCP-Protocol-Version: 2025-11-25"
why="$(not_html)"; code="$(json_error_code)"
[ -z "$why" ] && [ "$code" != "-32600" ] && why="body is not a JSON-RPC error -32600"
expect_status "batch -> 400 + -32600" 400 "$why"

req "unknown version" POST "$url" '{"jsonrpc":"2.0","id":3,"method":"tools/list"}' -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Bearer $token" -H "MCP-Protocol-Version: 1999-01-01"
expect_status "unknown MCP-Protocol-Version (legacy request) -> 400" 400 "$(not_html)"

req "content-type" POST "$url" "$INIT" -H "Content-Type: text/plain" -H "$ACCEPT" -H "Authorization: Bearer $token"
expect_status "Content-Type text/plain -> 415" 415 "$(not_html)"

big="$work/big.json"
n="${OVERSIZE_BYTES:-16777216}"
{ printf '{"jsonrpc":"2.0","id":9,"method":"ping","params":{"pad":"'; head -c "$n" /dev/zero | tr '\0' 'x'; printf '"}}'; } >"$big"
req "oversize" POST "$url" "@$big" -H "$CTYPE" -H "$ACCEPT" -H "Authorization: Bearer $token"
expect_status "oversize body ($n bytes) -> 413" 413 "$(not_html)"

# ---- health (no token needed) -------------------------------------------------------------------
req "healthz" GET "$base/healthz" -
expect_status "GET /healthz -> 200" 200
req "readyz" GET "$base/readyz" -
expect_status "GET /readyz -> 200" 200

echo "# probes: $passed ok, $failed failed"
[ "$failed" -eq 0 ]
