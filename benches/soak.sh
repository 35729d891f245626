#!/usr/bin/env bash
# Soak test of `origami serve` (release build, local store, the real photos): a cold + hot mix
# (one request in four a new thumbnail size, the rest cache hits) at concurrency $CONC for
# $MINUTES minutes, sampling the server's resident memory (VmRSS) every $SAMPLE_SECS seconds.
# What to look for: RSS rises while the result cache fills to its budget, then stays flat.
#
# Usage: benches/soak.sh                     (after scripts/fetch-photos.sh; installs wrk)
# Env:   MINUTES=30  CONC=8  SAMPLE_SECS=60  PORT=18080  WRK_THREADS=2
#        CACHE_BYTES=67108864 (origami's cache.memory_bytes during the soak)
set -euo pipefail
# shellcheck source=benches/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MINUTES="${MINUTES:-30}"
CONC="${CONC:-8}"
SAMPLE_SECS="${SAMPLE_SECS:-60}"

install_missing wrk:wrk curl:curl
build_origami
start_origami ORIGAMI_CACHE__MEMORY_BYTES="$CACHE_BYTES"
awk '{print $1}' "$WORK/keys" >"$WORK/hashes"
echo "soak.sh: $(wc -l <"$WORK/hashes") photos, c=$CONC for $MINUTES min, cache $CACHE_BYTES bytes, pid $ORIGAMI_PID"
echo "start VmRSS: $(rss_mb "$ORIGAMI_PID") MB"

cpu0="$(cpu_ticks "$ORIGAMI_PID")"
wrk -t"$WRK_THREADS" -c"$CONC" -d"$((MINUTES * 60))s" --timeout 30s -s "$ROOT/benches/soak.lua" \
  "http://127.0.0.1:$PORT" -- "$WORK/hashes" "$WRK_THREADS" >"$WORK/wrk.out" 2>&1 &
WRK_PID=$!
PIDS+=("$WRK_PID")
echo "| minute | VmRSS MB | peak (VmHWM) MB |"
echo "|---|---|---|"
started=$SECONDS
while kill -0 "$WRK_PID" 2>/dev/null; do
  sleep "$SAMPLE_SECS"
  kill -0 "$ORIGAMI_PID" 2>/dev/null || { echo "soak.sh: the server died" >&2; exit 1; }
  kill -0 "$WRK_PID" 2>/dev/null || break
  awk -v t="$((SECONDS - started))" -v rss="$(rss_mb "$ORIGAMI_PID")" -v hwm="$(peak_rss_mb "$ORIGAMI_PID")" \
    'BEGIN { printf "| %.1f | %s | %s |\n", t / 60, rss, hwm }'
done
wait "$WRK_PID" || true
cpu1="$(cpu_ticks "$ORIGAMI_PID")"
line="$(grep '^RESULT ' "$WORK/wrk.out" || true)"
[ -n "$line" ] || { echo "soak.sh: wrk produced no result:" >&2; cat "$WORK/wrk.out" >&2; exit 1; }
echo "${line#RESULT }" | tr ' ' '\n' >"$WORK/result"
# shellcheck disable=SC1090
. "$WORK/result"
echo "end VmRSS: $(rss_mb "$ORIGAMI_PID") MB, peak $(peak_rss_mb "$ORIGAMI_PID") MB"
awk -v req="$requests" -v dur="$duration_us" -v p50="$p50_us" -v p99="$p99_us" -v err="$errors" \
  -v cpu="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    printf "requests %d (%.1f/s), p50 %.1f ms, p99 %.1f ms, errors %d, CPU %.1f ms/request\n",
      req, req / (dur / 1e6), p50 / 1000, p99 / 1000, err, cpu * 1000 / hz / req }'
curl -fs "http://127.0.0.1:$PORT/metrics" | grep -E '^origami_cache_total' || true
