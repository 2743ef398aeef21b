#!/usr/bin/env bash
# Discovery and JWKS against a bare hyper hello-world on the same stack, with wrk: the
# target is >= 70% of the hello-world's rate. Server on CPU 1, wrk on CPU 0.
#   bench/hello.sh            # 10 s per run, 16 connections
#   DURATION=5 CONNS=64 bench/hello.sh
# Needs, besides this repository: wrk, curl, taskset and two CPUs.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-16}"

missing=()
need() { command -v "$1" >/dev/null || missing+=("$1 ($2)"); }
need cargo "the Rust toolchain, https://rustup.rs"
need wrk "apt-get install wrk"
need curl "apt-get install curl"
need taskset "apt-get install util-linux"
[ "$(nproc)" -ge 2 ] || missing+=("a second CPU to pin the servers and wrk apart")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench/hello.sh: cannot run; missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 2
fi

(cd "$ROOT" && cargo build -q --release -p lanyard --example hello --bin lanyard)
WORK="$(mktemp -d)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
taskset -c 1 "$CARGO_TARGET_DIR/release/examples/hello" 127.0.0.1:4301 >/dev/null &
PIDS+=($!)
# The subshell execs the server (through taskset, which execs too), so `$!` is its pid.
(cd "$WORK" && LANYARD_ISSUER=http://127.0.0.1:4302 LANYARD_LISTEN=127.0.0.1:4302 LANYARD_LOG=warn \
  exec taskset -c 1 "$CARGO_TARGET_DIR/release/lanyard" serve >/dev/null 2>&1) &
PIDS+=($!)
for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:4302/healthz >/dev/null 2>&1 && break; sleep 0.1; done
run() { taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" "$1" | awk -v name="$2" '/Requests\/sec/ { printf "%-28s %10.0f req/s\n", name, $2 }'; }
run http://127.0.0.1:4301/ "hyper hello-world"
run http://127.0.0.1:4302/.well-known/oauth-authorization-server "lanyard discovery"
run http://127.0.0.1:4302/oauth/jwks "lanyard jwks"
