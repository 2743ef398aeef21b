#!/usr/bin/env bash
# authbench `--login cmd:` hook: signs the bench user in through Lanyard's real forms and
# allows the client once, then prints the session cookie for the driver to reuse.
# Inputs (from authbench): AUTHBENCH_AUTHORIZE_URL; (from run.sh) BENCH_EMAIL, BENCH_PASSWORD.
# Needs curl.
set -euo pipefail
: "${AUTHBENCH_AUTHORIZE_URL:?is set by authbench; run bench/run.sh instead of this hook}"
: "${BENCH_EMAIL:?is set by bench/run.sh}" "${BENCH_PASSWORD:?is set by bench/run.sh}"
jar="$(mktemp)"
trap 'rm -f "$jar"' EXIT
hop() { curl -sS -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "$@"; }
csrf() { curl -sS -c "$jar" -b "$jar" "$1" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//'; }

login="$(hop "$AUTHBENCH_AUTHORIZE_URL")"
token="$(csrf "$login")"
next="$(hop --data-urlencode "email=$BENCH_EMAIL" --data-urlencode "password=$BENCH_PASSWORD" --data-urlencode "csrf_token=$token" "$login")"
case "$next" in
  */consent*)
    token="$(csrf "$next")"
    hop --data-urlencode decision=allow --data-urlencode "csrf_token=$token" "$next" >/dev/null
    ;;
esac
awk '$6 == "lanyard_session" { printf "lanyard_session=%s", $7 }' "$jar"
