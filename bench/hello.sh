#!/usr/bin/env bash
# Discovery and JWKS against a bare hyper hello-world on the same stack, with wrk: the
# target is >= 70% of the hello-world's rate. Server on CPU 1, wrk on CPU 0.
#   bench/hello.sh            # 10 s per run, 16 connections
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target}"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-16}"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
(cd "$ROOT" && cargo build -q --release -p lanyard --example hello --bin lanyard)
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
taskset -c 1 "$CARGO_TARGET_DIR/release/examples/hello" 127.0.0.1:4301 >/dev/null &
(cd "$WORK" && LANYARD_ISSUER=http://127.0.0.1:4302 LANYARD_LISTEN=127.0.0.1:4302 LANYARD_LOG=warn \
  taskset -c 1 "$CARGO_TARGET_DIR/release/lanyard" serve >/dev/null 2>&1) &
for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:4302/healthz >/dev/null 2>&1 && break; sleep 0.1; done
run() { taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" "$1" | awk -v name="$2" '/Requests\/sec/ { printf "%-28s %10.0f req/s\n", name, $2 }'; }
run http://127.0.0.1:4301/ "hyper hello-world"
run http://127.0.0.1:4302/.well-known/oauth-authorization-server "lanyard discovery"
run http://127.0.0.1:4302/oauth/jwks "lanyard jwks"
