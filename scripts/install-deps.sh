#!/usr/bin/env bash
# Installs what fasten-mcp needs to build, test and benchmark on Debian 12; with --build, only what
# building the binary needs. Idempotent: when every package is already installed it changes
# nothing and touches no network.
set -euo pipefail

# What building fasten-mcp needs (scripts/demo.sh installs only these: --build).
packages=(
  build-essential cmake pkg-config
  libsqlite3-dev libssl-dev nlohmann-json3-dev libpq-dev libboost1.81-dev libcurl4-openssl-dev
  libarchive-dev
)
if [ "${1:-}" != "--build" ]; then
  # The tests and benchmarks: GoogleTest, Google Benchmark, a PostgreSQL server, Python, ...
  packages+=(libgtest-dev libgmock-dev libbenchmark-dev postgresql python3 clang-format sqlite3 curl)
  # The libFuzzer drivers (scripts/fuzz.sh): clang and its fuzzer runtime.
  packages+=(clang libclang-rt-14-dev)
  # Node.js and npm run the real MCP clients in the tests; keep a Node the machine already has.
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 2
  fi
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
