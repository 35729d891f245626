#!/usr/bin/env bash
# Load benchmark of `origami serve` (release build, local store), next to baselines run in the
# same session. Workloads (WORKLOADS, default all four, in this order):
#   known        every request a different thumbnail size around 400x300 (JPEG q80) of the
#                known photos (stored before the server starts), so neither the result cache nor
#                coalescing can answer: the engine's throughput under load. wrk, each of CONC.
#                (Called "cold" in rows before 2026-12-02; WORKLOADS=cold still selects it.)
#   hot          a few URLs requested over and over: result-cache hits. wrk, each of CONC; then
#                nginx serving the same bytes from disk (the bar for cache hits).
#   first-touch  FIRST_N new originals, each uploaded (POST /originals) then asked once for
#                /thumb/400/300: the first request of a newly published image. NEW_CONC
#                originals in flight.
#   burst        BURST_N other new originals, each uploaded then asked at once for five srcset
#                sizes (1280x853, 960x640, 640x427, 320x213, 400x300): a page publishing an
#                image. NEW_CONC originals in flight, so up to 5x that many requests.
# The new originals are lossless jpegtran crops of the photos (50-100 % of each, 6-20 MP where
# the photo allows, progressive and baseline in turn, all distinct; made once per run by
# benches/originals.py, which also drives these two workloads). Every first-touch and burst run
# gets a fresh origami process over an empty store, so nothing earlier warms it.
# sharp (libvips, no result cache) runs known, first-touch and burst on the same photos / new
# originals (new originals: in its CORPUS_DIR before it starts, as it has no upload; it is asked
# for the same thumbnails by stem). It runs when SHARP_DIR names a directory holding sharp-server's
# server.js and node_modules, by default ../shared/peers/sharp-server or else
# target/sharp-server if either has node_modules (make one: copy ../shared/peers/sharp-server to
# target/sharp-server and run `npm ci` there).
#
# For each run, one table row and one row appended to $OUT (TSV: ts server workload conc requests
# rps p50_ms p99_ms errors peak_rss_mb cpu_ms_per_req load1): the server's peak RSS (VmHWM, reset
# before every run) and CPU milliseconds (utime+stime) per request. For first-touch and burst the
# unit is the original, not the request: conc = originals in flight, requests = originals,
# rps = originals per second of wall time for the whole set (the table also shows the wall time),
# p50/p99 = latency per original (origami: upload + its thumbnail(s); sharp: its thumbnail(s);
# nearest rank, over originals without an error), errors = failed requests, cpu_ms_per_req = CPU
# ms per original.
#
# Usage: benches/load.sh                       (after scripts/fetch-photos.sh; installs wrk and
#                                               nginx from Debian when missing, as root; takes
#                                               jpegtran from Debian's .deb without installing)
#        WORKLOADS="first-touch burst" FIRST_N=100 BURST_N=40 NEW_CONC=8 benches/load.sh
#        ORIGAMI=0 DURATION=5 FIRST_N=6 BURST_N=4 benches/load.sh   (sharp only: no cargo build)
# Env:   WORKLOADS="known hot first-touch burst"
#        CONC="2 8 32" (wrk connections, known and hot)  DURATION=20 (s per wrk run)
#        FIRST_N=100  BURST_N=40  NEW_CONC="8" (originals in flight, first-touch and burst)
#        PORT=18080 (origami; nginx +1, sharp +2)  WRK_THREADS=2
#        CACHE_BYTES=67108864 (origami's cache.memory_bytes during the benchmark)
#        ORIGAMI=0 (skip origami, its build and nginx)  ORIGAMI_BIN=path (that binary, not built)
#        SHARP_DIR=/path/to/sharp-server  SHARP=0 (skip sharp)  NGINX=0 (skip nginx)
#        OUT=target/load/results.tsv
set -euo pipefail
# shellcheck source=benches/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
WORKLOADS="${WORKLOADS:-known hot first-touch burst}"
CONC="${CONC:-2 8 32}"
DURATION="${DURATION:-20}"
FIRST_N="${FIRST_N:-100}"
BURST_N="${BURST_N:-40}"
NEW_CONC="${NEW_CONC:-8}"
ORIGAMI="${ORIGAMI:-1}"
SHARP="${SHARP:-1}"
SHARP_DIR="${SHARP_DIR:-}"
NGINX="${NGINX:-1}"
OUT="${OUT:-$ROOT/target/load/results.tsv}"

WORKLOADS="${WORKLOADS//cold/known}"
for w in $WORKLOADS; do
  case "$w" in
    known | hot | first-touch | burst) ;;
    *) echo "load.sh: unknown workload '$w' (known hot first-touch burst)" >&2; exit 2 ;;
  esac
done
has() { [[ " $WORKLOADS " == *" $1 "* ]]; }

if [ "$SHARP" != 1 ]; then
  SHARP_DIR=""
elif [ -z "$SHARP_DIR" ]; then
  for dir in "$ROOT/../shared/peers/sharp-server" "$ROOT/target/sharp-server"; do
    if [ -d "$dir/node_modules" ]; then SHARP_DIR="$(cd "$dir" && pwd)"; break; fi
  done
fi
if [ "$ORIGAMI" != 1 ]; then
  has hot && echo "load.sh: ORIGAMI=0: no hot workload (origami's cache hits, nginx on their bytes)"
  NGINX=0
fi

install_missing curl:curl
{ has known || has hot; } && install_missing wrk:wrk
has hot && [ "$NGINX" = 1 ] && install_missing nginx:nginx-light
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
[ -n "$SHARP_DIR" ] && install_missing node:nodejs
{ has first-touch || has burst; } && install_missing python3:python3
if [ "$ORIGAMI" = 1 ]; then build_origami; else need_photos; fi

mkdir -p "$(dirname "$OUT")"
[ -s "$OUT" ] || printf 'ts\tserver\tworkload\tconc\trequests\trps\tp50_ms\tp99_ms\terrors\tpeak_rss_mb\tcpu_ms_per_req\tload1\n' >"$OUT"

# row SERVER WORKLOAD CONC PIDS CPU_TICKS RESULT_LINE: appends the TSV row for one run (from the
# `RESULT key=value ...` line of load.lua or originals.py) and prints it as a table row.
row() {
  local label="$1" workload="$2" conc="$3" pid="$4" cpu="$5" line="$6" shown="$2"
  local requests=0 duration_us=1 p50_us=0 p99_us=0 errors=0
  echo "${line#RESULT }" | tr ' ' '\n' >"$WORK/result"
  # shellcheck disable=SC1091
  . "$WORK/result"
  case "$workload" in
    first-touch | burst) shown="$workload ($requests in $(awk -v d="$duration_us" 'BEGIN { printf "%.1f", d / 1e6 }') s)" ;;
  esac
  awk -v ts="$(date -u +%FT%TZ)" -v server="$label" -v workload="$workload" -v conc="$conc" \
    -v req="$requests" -v dur="$duration_us" -v p50="$p50_us" -v p99="$p99_us" -v err="$errors" \
    -v rss="$(peak_rss_mb "$pid")" -v cpu="$cpu" -v hz="$(getconf CLK_TCK)" \
    -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
      rps = req / (dur / 1e6); cpr = req > 0 ? cpu * 1000 / hz / req : 0
      printf "%s\t%s\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%d\t%s\t%.3f\t%s\n",
        ts, server, workload, conc, req, rps, p50 / 1000, p99 / 1000, err, rss, cpr, load }' |
    tee -a "$OUT" |
    awk -F'\t' -v shown="$shown" '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $2, shown, $4, $6, $7, $8, $9, $10, $11 }'
}

# run SERVER_LABEL WORKLOAD PIDS BASE_URL LIST CONC: one wrk run, one table row.
run() {
  local label="$1" workload="$2" pid="$3" base="$4" list="$5" conc="$6" threads line cpu0 cpu1
  threads="$WRK_THREADS"; [ "$conc" -lt "$threads" ] && threads="$conc"
  reset_peak_rss "$pid"
  cpu0="$(cpu_ticks "$pid")"
  line="$(wrk -t"$threads" -c"$conc" -d"${DURATION}s" --timeout 30s -s "$ROOT/benches/load.lua" \
    "$base" -- "$list" "$threads" | grep '^RESULT ')"
  cpu1="$(cpu_ticks "$pid")"
  row "$label" "$workload" "$conc" "$pid" "$((cpu1 - cpu0))" "$line"
}

# run_new SERVER_LABEL WORKLOAD PID BASE_URL CONC FILE...: one originals.py run over the new
# originals FILE..., one table row. Its failures go to $WORK/notes, shown after the table.
run_new() {
  local label="$1" workload="$2" pid="$3" base="$4" conc="$5" line cpu0 cpu1
  shift 5
  reset_peak_rss "$pid"
  cpu0="$(cpu_ticks "$pid")"
  line="$(UPLOAD_TOKEN="$TOKEN" python3 "$ROOT/benches/originals.py" drive --server "$label" \
    --workload "$workload" --conc "$conc" "$base" "$@" 2>>"$WORK/notes" | grep '^RESULT ')"
  cpu1="$(cpu_ticks "$pid")"
  row "$label" "$workload" "$conc" "$pid" "$((cpu1 - cpu0))" "$line"
}

# start_sharp CORPUS_DIR: sharp-server on $PORT+2 over CORPUS_DIR (indexed at start); sets
# SHARP_PID. Ready once it answers anything (a 404 here), so no original is read before the run.
start_sharp() {
  CORPUS_DIR="$1" PORT=$((PORT + 2)) node "$SHARP_DIR/server.js" >>"$WORK/sharp.log" 2>&1 &
  SHARP_PID=$!; PIDS+=("$SHARP_PID")
  wait_listening "http://127.0.0.1:$((PORT + 2))/ready"
}

# --- the new originals (before any server starts) ------------------------------------------------
sets=()
has first-touch && sets+=("first-touch:$FIRST_N")
has burst && sets+=("burst:$BURST_N")
if [ "${#sets[@]}" -gt 0 ]; then
  need_jpegtran
  echo "load.sh: making the new originals (${sets[*]}) with jpegtran"
  python3 "$ROOT/benches/originals.py" crops "$JPEGTRAN" "$WORK/new" "${sets[@]}" \
    --photos "$PHOTOS"/*.jpg
  TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
fi

echo "load.sh: workloads \"$WORKLOADS\"; photos in $PHOTOS; wrk CONC=\"$CONC\", ${DURATION}s per run;" \
  "FIRST_N=$FIRST_N BURST_N=$BURST_N NEW_CONC=\"$NEW_CONC\"; origami cache ${CACHE_BYTES} bytes;" \
  "origami $([ "$ORIGAMI" = 1 ] && echo "$ORIGAMI_BIN" || echo off); sharp ${SHARP_DIR:-off}"
echo "(first-touch and burst: concurrency = originals in flight, req/s = originals/s over the whole"
echo "set, p50/p99 and CPU ms per original)"
echo
echo "| server | workload | concurrency | req/s | p50 ms | p99 ms | errors | peak RSS MB | CPU ms/req |"
echo "|---|---|---|---|---|---|---|---|---|"

# --- origami: known and hot, over the photos -----------------------------------------------------
if [ "$ORIGAMI" = 1 ] && { has known || has hot; }; then
  start_origami ORIGAMI_CACHE__MEMORY_BYTES="$CACHE_BYTES"
fi
# The photos' keys: "<hash>  <path>" per photo, from `origami put` (start_origami); without
# origami only the sharp lists are used, and the hashes are placeholders.
if [ ! -s "$WORK/keys" ]; then
  for photo in "$PHOTOS"/*.jpg; do printf -- '-  %s\n' "$photo"; done >"$WORK/keys"
fi
# Known lists: sizes 380..459 x 280..339 (4800 per photo, all within 5% of 400x300 so the work
# per request is that of a 400x300 thumbnail), photos interleaved, every concurrency level given
# its own disjoint share, so no URL is ever requested twice in one benchmark.
read -ra levels <<<"$CONC"
awk -v levels="${#levels[@]}" -v dir="$WORK" '
  { hash[NR] = $1; n = split($2, parts, "/"); stem[NR] = parts[n]; sub(/\.[^.]*$/, "", stem[NR]) }
  END {
    k = 0
    for (w = 380; w < 460; w++) for (h = 280; h < 340; h++) for (i = 1; i <= NR; i++) {
      level = k++ % levels
      printf "/thumb/%d/%d/%s.jpg\n", w, h, hash[i] > (dir "/known-origami-" level)
      printf "/thumb/%d/%d/%s.jpg\n", w, h, stem[i] > (dir "/known-sharp-" level)
    }
  }' "$WORK/keys"
# Hot list: 400x300 and 200x150 of every photo, as JPEG and WebP.
awk '{ for (s = 0; s < 2; s++) for (f = 0; f < 2; f++)
         printf "/thumb/%d/%d/%s.%s\n", s ? 200 : 400, s ? 150 : 300, $1, f ? "webp" : "jpg" }' \
  "$WORK/keys" >"$WORK/hot"

if [ "$ORIGAMI" = 1 ] && has known; then
  i=0
  for c in $CONC; do
    run origami known "$ORIGAMI_PID" "http://127.0.0.1:$PORT" "$WORK/known-origami-$i" "$c"
    i=$((i + 1))
  done
fi
if [ "$ORIGAMI" = 1 ] && has hot; then
  # Warm the hot URLs (and keep their bytes for nginx).
  while read -r path; do
    mkdir -p "$WORK/www$(dirname "$path")"
    curl -fs "http://127.0.0.1:$PORT$path" -o "$WORK/www$path"
  done <"$WORK/hot"
  for c in $CONC; do
    run origami hot "$ORIGAMI_PID" "http://127.0.0.1:$PORT" "$WORK/hot" "$c"
  done
fi
[ -n "${ORIGAMI_PID:-}" ] && stop "$ORIGAMI_PID"

# --- nginx: the hot bytes from disk --------------------------------------------------------------
if [ "$NGINX" = 1 ] && has hot; then
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=1000;
  types { image/jpeg jpg; image/webp webp; }
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$((PORT + 1));
    root $WORK/www;
    add_header Cache-Control "public, max-age=31536000, immutable";
  }
}
EOF
  "$NGINX_BIN" -c "$WORK/nginx/nginx.conf" &
  NGINX_PID=$!; PIDS+=("$NGINX_PID")
  wait_ready "http://127.0.0.1:$((PORT + 1))$(head -1 "$WORK/hot")"
  # The master supervises one worker per core: measure them all.
  NGINX_PIDS="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
  for c in $CONC; do
    run nginx hot "$NGINX_PIDS" "http://127.0.0.1:$((PORT + 1))" "$WORK/hot" "$c"
  done
  stop "$NGINX_PID"
fi

# --- sharp: the same known sizes -----------------------------------------------------------------
if [ -n "$SHARP_DIR" ] && has known; then
  start_sharp "$PHOTOS"
  i=0
  for c in $CONC; do
    run sharp known "$SHARP_PID" "http://127.0.0.1:$((PORT + 2))" "$WORK/known-sharp-$i" "$c"
    i=$((i + 1))
  done
  stop "$SHARP_PID"
fi

# --- first-touch and burst: new originals, a fresh server per run --------------------------------
for workload in first-touch burst; do
  has "$workload" || continue
  files=("$WORK/new/$workload"/*.jpg)
  for c in $NEW_CONC; do
    if [ "$ORIGAMI" = 1 ]; then
      fresh_store
      serve_origami ORIGAMI_CACHE__MEMORY_BYTES="$CACHE_BYTES" ORIGAMI_SECURITY__UPLOAD_TOKEN="$TOKEN"
      run_new origami "$workload" "$ORIGAMI_PID" "http://127.0.0.1:$PORT" "$c" "${files[@]}"
      stop "$ORIGAMI_PID"
    fi
    if [ -n "$SHARP_DIR" ]; then
      start_sharp "$WORK/new/$workload"
      run_new sharp "$workload" "$SHARP_PID" "http://127.0.0.1:$((PORT + 2))" "$c" "${files[@]}"
      stop "$SHARP_PID"
    fi
  done
done

for log in "$WORK"/origami-*.log; do
  [ -s "$log" ] || continue
  echo; echo "origami warnings ($(basename "$log")):"; head -5 "$log"
done
[ -s "$WORK/notes" ] && { echo; echo "failed requests:"; head -20 "$WORK/notes"; }
echo
echo "rows appended to $OUT"
