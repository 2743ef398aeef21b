#!/usr/bin/env bash
# Load benchmark: Lanyard (release build, embedded store) under ../shared/bench's authbench,
# the same driver and flags used for the oidc-provider peer. Server pinned to CPU 1, driver
# to CPU 0; compare "server CPU ms per op" (the figure least moved by other load).
#   bench/run.sh                                  # discovery, jwks, auth_code, refresh
#   SCENARIOS=discovery,jwks CONC=16 bench/run.sh
#   POLICIES=3 SCENARIOS=refresh bench/run.sh     # mint cost with 0, 1 or 3 policies bound
# Results: $OUT (default /tmp/lanyard-bench)/<stamp>-lanyard.{json,md,txt}
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
SHARED="${SHARED:-$ROOT/../shared}"
AUTHBENCH_SRC="$SHARED/bench/load/authbench"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target}"
PORT="${PORT:-4200}"
CONC="${CONC:-16,64}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
SCENARIOS="${SCENARIOS:-discovery,jwks,auth_code,refresh}"
OUT="${OUT:-/tmp/lanyard-bench}"
PIN="${PIN:-1}"
mkdir -p "$OUT"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"

# The driver builds outside the read-only kit.
(cd "$AUTHBENCH_SRC" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/authbench" cargo build --release -q)
AB="$CARGO_TARGET_DIR/authbench/release/authbench"
(cd "$ROOT" && cargo build --release -q -p lanyard)
LANYARD="$CARGO_TARGET_DIR/release/lanyard"

WORK="$(mktemp -d)"
# The server's log is kept beside the results.
trap 'kill "${PID:-0}" 2>/dev/null || true; cp "$WORK/server.log" "$OUT/$STAMP-lanyard-p$POLICIES.log" 2>/dev/null; rm -rf "$WORK"' EXIT
ISSUER="http://127.0.0.1:$PORT"
export LANYARD_ISSUER="$ISSUER" LANYARD_LISTEN="127.0.0.1:$PORT" LANYARD_DATA_DIR="$WORK/data" LANYARD_LOG="${LANYARD_LOG:-warn}"
# POLICIES=N binds the first N of: purchase-tier, org-membership, hostile-policy (mode "ok",
# which only adds claims) to every resource, to price a mint with 0, 1 or 3 policies.
POLICIES="${POLICIES:-0}"
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
PID=$!
for _ in $(seq 1 100); do curl -fsS "$ISSUER/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
# `$!` is the subshell; the server is its only child after exec.
PID="$(pgrep -f "$LANYARD serve" | head -1)"
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
