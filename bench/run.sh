#!/usr/bin/env bash
# Load benchmark: Lanyard (release build) under the load driver authbench, the same driver
# and flags the benchmark kit uses for its oidc-provider peer. Server pinned to CPU 1, driver
# to CPU 0; compare "server CPU ms per op" (the figure least moved by other load).
#   bench/run.sh                                  # discovery, jwks, auth_code, refresh
#   SCENARIOS=discovery,jwks CONC=16 bench/run.sh
#   POLICIES=3 SCENARIOS=refresh bench/run.sh     # mint cost with 0, 1 or 3 policies bound
# Results: $OUT (default /tmp/lanyard-bench)/<stamp>-lanyard-p<N>.{json,md,txt,log}
#
# Needs, besides this repository: curl; taskset and two CPUs unless PIN=0; and authbench,
# which is NOT in this repository. It comes with the benchmark kit, looked for in
# $SHARED/bench/load/authbench (SHARED defaults to ../shared beside the checkout), or give a
# built binary as AUTHBENCH=/path/to/authbench. bench/README.md says more.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
SHARED="${SHARED:-$(dirname "$ROOT")/shared}"
AUTHBENCH_SRC="$SHARED/bench/load/authbench"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PORT="${PORT:-4200}"
CONC="${CONC:-16,64}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
SCENARIOS="${SCENARIOS:-discovery,jwks,auth_code,refresh}"
OUT="${OUT:-/tmp/lanyard-bench}"
PIN="${PIN:-1}"
POLICIES="${POLICIES:-0}"

# Everything missing is named before anything is built.
missing=()
need() { command -v "$1" >/dev/null || missing+=("$1 ($2)"); }
need cargo "the Rust toolchain, https://rustup.rs"
need curl "apt-get install curl"
if [ "$PIN" = 1 ]; then
  need taskset "apt-get install util-linux, or run with PIN=0"
  [ "$(nproc)" -ge 2 ] || missing+=("a second CPU to pin the server and the driver apart (or run with PIN=0)")
fi
if [ -n "${AUTHBENCH:-}" ]; then
  [ -x "$AUTHBENCH" ] || missing+=("AUTHBENCH=$AUTHBENCH is not an executable file")
elif [ ! -f "$AUTHBENCH_SRC/Cargo.toml" ]; then
  missing+=("the load driver authbench: no crate at $AUTHBENCH_SRC.
    It is not in this repository; it comes with the benchmark kit (a folder holding
    bench/load/authbench). Put the kit at $(dirname "$ROOT")/shared, or set SHARED=/path/to/kit,
    or set AUTHBENCH=/path/to/a/built/authbench")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench/run.sh: cannot run; missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 2
fi

mkdir -p "$OUT"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"

if [ -n "${AUTHBENCH:-}" ]; then
  AB="$AUTHBENCH"
else
  # The driver builds outside the kit, which may be read-only.
  (cd "$AUTHBENCH_SRC" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/authbench" cargo build --release -q)
  AB="$CARGO_TARGET_DIR/authbench/release/authbench"
fi
(cd "$ROOT" && cargo build --release -q -p lanyard)
LANYARD="$CARGO_TARGET_DIR/release/lanyard"

WORK="$(mktemp -d)"
# The server's log is kept beside the results.
trap '[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; cp "$WORK/server.log" "$OUT/$STAMP-lanyard-p$POLICIES.log" 2>/dev/null || true; rm -rf "$WORK"' EXIT
ISSUER="http://127.0.0.1:$PORT"
export LANYARD_ISSUER="$ISSUER" LANYARD_LISTEN="127.0.0.1:$PORT" LANYARD_DATA_DIR="$WORK/data" LANYARD_LOG="${LANYARD_LOG:-warn}"
# The driver sends every request from one address, which the per-address limits on
# authorize and sign-in would answer with 429s: they are off here.
export LANYARD_RATE_AUTHORIZE_PER_MIN=0 LANYARD_RATE_LOGIN_PER_MIN=0
# POLICIES=N binds the first N of: purchase-tier, org-membership, hostile-policy (mode "ok",
# which only adds claims) to every resource, to price a mint with 0, 1 or 3 policies.
if [ "$POLICIES" -gt 0 ]; then
  (cd "$ROOT" && cargo build -q --profile policy --target wasm32-wasip2 -p purchase-tier -p org-membership -p hostile-policy)
  cp "$CARGO_TARGET_DIR"/wasm32-wasip2/policy/{purchase_tier,org_membership,hostile_policy}.wasm "$WORK/"
  BINDINGS=(
'[[policies]]
name = "tier"
module = "purchase_tier.wasm"
config = { default = "free", tiers = { free = { drop_scopes = ["write"], notice = "Write needs Pro." }, pro = { entitlements = ["export"] } } }'
'[[policies]]
name = "org"
module = "org_membership.wasm"
config = { domains = { "example.com" = "org_example" } }'
'[[policies]]
name = "extra"
module = "hostile_policy.wasm"
config = { mode = "ok" }'
  )
  for i in $(seq 0 $((POLICIES - 1))); do printf '%s\n' "${BINDINGS[$i]}" >> "$WORK/lanyard.toml"; done
fi
export BENCH_EMAIL="bench@example.com" BENCH_PASSWORD="bench-password-0123"
(cd "$WORK" && "$LANYARD" user add "$BENCH_EMAIL" --password "$BENCH_PASSWORD" >/dev/null)
if [ "$PIN" = 1 ]; then SRV=(taskset -c 1); CLI=(taskset -c 0); else SRV=(); CLI=(); fi
(cd "$WORK" && exec "${SRV[@]}" "$LANYARD" serve >"$WORK/server.log" 2>&1) &
# The subshell execs the server (through taskset, which execs too), so `$!` is its pid.
PID=$!
up=0
for _ in $(seq 1 100); do curl -fsS "$ISSUER/healthz" >/dev/null 2>&1 && { up=1; break; }; sleep 0.1; done
if [ "$up" = 0 ]; then
  echo "bench/run.sh: lanyard did not answer $ISSUER/healthz within 10 s; its log:" >&2
  cat "$WORK/server.log" >&2
  exit 1
fi
echo "lanyard pid $PID"

"${CLI[@]}" "$AB" \
  --label "lanyard-p$POLICIES" \
  --issuer "$ISSUER" \
  --resource "$ISSUER/mcp" --scope read \
  --login "cmd:$HERE/login.sh" \
  --scenarios "$SCENARIOS" --concurrency "$CONC" \
  --duration "$DURATION" --warmup "$WARMUP" \
  --server-pid "$PID" \
  --json "$OUT/$STAMP-lanyard-p$POLICIES.json" --markdown "$OUT/$STAMP-lanyard-p$POLICIES.md" "$@" | tee "$OUT/$STAMP-lanyard-p$POLICIES.txt"
grep -E "VmRSS|VmHWM" "/proc/$PID/status" | tee -a "$OUT/$STAMP-lanyard-p$POLICIES.txt"
