#!/usr/bin/env bash
# Load benchmark of `origami serve` (release build, local store, the real photos), driven by wrk
# on loopback, next to two baselines run in the same session:
#   cold  every request a different thumbnail size around 400x300 (JPEG q80), so neither the
#         result cache nor coalescing can answer: the engine's throughput under load.
#   hot   a few URLs requested over and over: result-cache hits.
#   nginx the same bytes as the hot URLs served from disk by nginx (the bar for cache hits).
#   sharp the cold URLs against the libvips `sharp` server (optional: SHARP_DIR=dir holding its
#         server.js and node_modules, e.g. a copy of ../shared/peers/sharp-server after `npm ci`).
# For each run: requests/s, p50/p99 latency, errors, the server's peak RSS (VmHWM, reset before
# every run) and its CPU milliseconds per request.
#
# Usage: benches/load.sh                       (after scripts/fetch-photos.sh; installs wrk and
#                                               nginx from Debian when missing, as root)
# Env:   CONC="2 8 32"  DURATION=20 (s per run)  PORT=18080  WRK_THREADS=2
#        CACHE_BYTES=67108864 (origami's cache.memory_bytes during the benchmark)
#        SHARP_DIR=/path/to/sharp-server   NGINX=0 (skip nginx)   OUT=target/load/results.tsv
set -euo pipefail
# shellcheck source=benches/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
CONC="${CONC:-2 8 32}"
DURATION="${DURATION:-20}"
SHARP_DIR="${SHARP_DIR:-}"
NGINX="${NGINX:-1}"
OUT="${OUT:-$ROOT/target/load/results.tsv}"

install_missing wrk:wrk curl:curl
[ "$NGINX" = 1 ] && install_missing nginx:nginx-light
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
build_origami

mkdir -p "$(dirname "$OUT")"
[ -s "$OUT" ] || printf 'ts\tserver\tworkload\tconc\trequests\trps\tp50_ms\tp99_ms\terrors\tpeak_rss_mb\tcpu_ms_per_req\tload1\n' >"$OUT"

# run SERVER_LABEL WORKLOAD PIDS BASE_URL LIST CONC: one wrk run, one table row.
run() {
  local label="$1" workload="$2" pid="$3" base="$4" list="$5" conc="$6" threads line cpu0 cpu1
  threads="$WRK_THREADS"; [ "$conc" -lt "$threads" ] && threads="$conc"
  reset_peak_rss "$pid"
  cpu0="$(cpu_ticks "$pid")"
  line="$(wrk -t"$threads" -c"$conc" -d"${DURATION}s" --timeout 30s -s "$ROOT/benches/load.lua" \
    "$base" -- "$list" "$threads" | grep '^RESULT ')"
  cpu1="$(cpu_ticks "$pid")"
  echo "${line#RESULT }" | tr ' ' '\n' >"$WORK/result"
  # shellcheck disable=SC1090
  . "$WORK/result"
  awk -v ts="$(date -u +%FT%TZ)" -v server="$label" -v workload="$workload" -v conc="$conc" \
    -v req="$requests" -v dur="$duration_us" -v p50="$p50_us" -v p99="$p99_us" -v err="$errors" \
    -v rss="$(peak_rss_mb "$pid")" -v cpu="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" \
    -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
      rps = req / (dur / 1e6); cpr = req > 0 ? cpu * 1000 / hz / req : 0
      printf "%s\t%s\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%d\t%s\t%.1f\t%s\n",
        ts, server, workload, conc, req, rps, p50 / 1000, p99 / 1000, err, rss, cpr, load }' |
    tee -a "$OUT" |
    awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $6, $7, $8, $9, $10, $11 }'
}

# --- origami: store the photos, start the server -------------------------------------------------
start_origami ORIGAMI_CACHE__MEMORY_BYTES="$CACHE_BYTES"

# Cold lists: sizes 380..459 x 280..339 (4800 per photo, all within 5% of 400x300 so the work per
# request is that of a 400x300 thumbnail), photos interleaved, every concurrency level given its
# own disjoint share, so no URL is ever requested twice in one benchmark.
levels=($CONC)
awk -v levels="${#levels[@]}" -v dir="$WORK" '
  { hash[NR] = $1; n = split($2, parts, "/"); stem[NR] = parts[n]; sub(/\.[^.]*$/, "", stem[NR]) }
  END {
    k = 0
    for (w = 380; w < 460; w++) for (h = 280; h < 340; h++) for (i = 1; i <= NR; i++) {
      level = k++ % levels
      printf "/thumb/%d/%d/%s.jpg\n", w, h, hash[i] > (dir "/cold-origami-" level)
      printf "/thumb/%d/%d/%s.jpg\n", w, h, stem[i] > (dir "/cold-sharp-" level)
    }
  }' "$WORK/keys"
# Hot list: 400x300 and 200x150 of every photo, as JPEG and WebP.
awk '{ for (s = 0; s < 2; s++) for (f = 0; f < 2; f++)
         printf "/thumb/%d/%d/%s.%s\n", s ? 200 : 400, s ? 150 : 300, $1, f ? "webp" : "jpg" }' \
  "$WORK/keys" >"$WORK/hot"

echo "load.sh: $(wc -l <"$WORK/keys") photos, CONC=\"$CONC\", ${DURATION}s per run, origami cache ${CACHE_BYTES} bytes"
echo
echo "| server | workload | concurrency | req/s | p50 ms | p99 ms | errors | peak RSS MB | CPU ms/req |"
echo "|---|---|---|---|---|---|---|---|---|"
i=0
for c in $CONC; do
  run origami cold "$ORIGAMI_PID" "http://127.0.0.1:$PORT" "$WORK/cold-origami-$i" "$c"
  i=$((i + 1))
done
# Warm the hot URLs (and keep their bytes for nginx).
while read -r path; do
  mkdir -p "$WORK/www$(dirname "$path")"
  curl -fs "http://127.0.0.1:$PORT$path" -o "$WORK/www$path"
done <"$WORK/hot"
for c in $CONC; do
  run origami hot "$ORIGAMI_PID" "http://127.0.0.1:$PORT" "$WORK/hot" "$c"
done
grep -c . "$WORK/origami.log" >/dev/null && { echo; echo "origami warnings:"; head -5 "$WORK/origami.log"; } || true
kill "$ORIGAMI_PID"; wait "$ORIGAMI_PID" 2>/dev/null || true

# --- nginx: the hot bytes from disk --------------------------------------------------------------
if [ "$NGINX" = 1 ]; then
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
  kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true
fi

# --- sharp: the same cold sizes ------------------------------------------------------------------
if [ -n "$SHARP_DIR" ]; then
  CORPUS_DIR="$PHOTOS" PORT=$((PORT + 2)) node "$SHARP_DIR/server.js" >"$WORK/sharp.log" 2>&1 &
  SHARP_PID=$!; PIDS+=("$SHARP_PID")
  wait_ready "http://127.0.0.1:$((PORT + 2))$(head -1 "$WORK/cold-sharp-0")"
  i=0
  for c in $CONC; do
    run sharp cold "$SHARP_PID" "http://127.0.0.1:$((PORT + 2))" "$WORK/cold-sharp-$i" "$c"
    i=$((i + 1))
  done
fi
echo
echo "rows appended to $OUT"
