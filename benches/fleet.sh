#!/usr/bin/env bash
# Scale-out benchmark (issue 15): three `origami serve` over two S3 regions (s3s-fs on loopback,
# see scripts/dev-regions.sh) behind nginx, once round-robin and once `hash $origami_hash
# consistent` on the hash part of the path (deploy/scaling.md), with the same cold + repeat
# workload (benches/fleet.py: every photo at SIZES sizes, each URL REPEAT times, shuffled, CONC
# in flight). Each mode gets fresh regions and fresh replicas. Reports, per mode, the transforms
# made across the fleet (result-cache misses, from each replica's /metrics, and per replica),
# derivatives read back from the derived space, coalesced requests, working copies made, the
# fleet's hit ratio, req/s and p99 through the balancer.
#
# Usage: benches/fleet.sh          (installs nginx-light from Debian when missing, as root;
#                                   s3s-fs from crates.io once, into target/tools)
# Env:   SIZES=20  REPEAT=5  CONC=8  PORT=18080 (nginx; replicas +1..+3, regions +11, +12)
#        MODES="round-robin consistent-hash"  ORIGAMI_BIN=path (not built)
#        OUT=target/load/fleet.tsv (rows appended)
set -euo pipefail
# shellcheck source=benches/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SIZES="${SIZES:-20}"
REPEAT="${REPEAT:-5}"
CONC="${CONC:-8}"
MODES="${MODES:-round-robin consistent-hash}"
OUT="${OUT:-$ROOT/target/load/fleet.tsv}"
mkdir -p "$(dirname "$OUT")"
ACCESS_KEY="origami-test-key"
SECRET_KEY="origami-test-secret-0123456789"

install_missing nginx:nginx-light
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
build_origami
S3S_FS="$("$ROOT/scripts/dev-regions.sh" s3s-fs)"
export AWS_ACCESS_KEY_ID="$ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$SECRET_KEY"

# run_mode MODE: fresh regions, replicas and balancer; the workload; everything stopped after.
run_mode() {
  local mode=$1 dir="$WORK/$1" pids=() region port i
  mkdir -p "$dir"
  cat >"$dir/origami.toml" <<TOML
[[store.s3]]
name = "east"
bucket = "origami"
region = "us-east-1"
endpoint = "http://127.0.0.1:$((PORT + 11))"

[[store.s3]]
name = "west"
bucket = "origami"
region = "eu-west-1"
endpoint = "http://127.0.0.1:$((PORT + 12))"

[cache]
memory_bytes = $CACHE_BYTES
TOML
  for region in 11 12; do
    mkdir -p "$dir/region-$region/origami"
    "$S3S_FS" --host 127.0.0.1 --port "$((PORT + region))" --access-key "$ACCESS_KEY" \
      --secret-key "$SECRET_KEY" "$dir/region-$region" >"$dir/region-$region.log" 2>&1 &
    pids+=($!)
    PIDS+=($!)
    wait_listening "http://127.0.0.1:$((PORT + region))/"
  done
  "$ORIGAMI_BIN" --config "$dir/origami.toml" put "$PHOTOS"/*.jpg 2>/dev/null | awk '{print $1}' >"$dir/keys"
  local upstreams=""
  for i in 1 2 3; do
    port=$((PORT + i))
    RUST_LOG=warn "$ORIGAMI_BIN" --config "$dir/origami.toml" serve --listen "127.0.0.1:$port" \
      2>"$dir/origami-$i.log" &
    pids+=($!)
    PIDS+=($!)
    upstreams+="    server 127.0.0.1:$port;"$'\n'
  done
  local balance=""
  [ "$mode" = consistent-hash ] && balance='hash $origami_hash consistent;'
  cat >"$dir/nginx.conf" <<NGINX
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  map \$uri \$origami_hash {
    "~(?<h>[0-9a-f]{64})(\\.[a-z0-9]+)?\$"  \$h;
    default                                \$uri;
  }
  upstream origami {
    $balance
$upstreams    keepalive 32;
  }
  server {
    listen 127.0.0.1:$PORT;
    location / {
      proxy_pass http://origami;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
  "$NGINX" -c "$dir/nginx.conf" -g 'daemon off;' 2>"$dir/nginx.log" &
  pids+=($!)
  PIDS+=($!)
  for i in 1 2 3; do wait_ready "http://127.0.0.1:$((PORT + i))/readyz"; done
  wait_listening "http://127.0.0.1:$PORT/healthz"
  mapfile -t photos <"$dir/keys"
  python3 "$ROOT/benches/fleet.py" "http://127.0.0.1:$PORT" "$mode" \
    "http://127.0.0.1:$((PORT + 1))" "http://127.0.0.1:$((PORT + 2))" "http://127.0.0.1:$((PORT + 3))" \
    --photos "${photos[@]}" --sizes "$SIZES" --repeat "$REPEAT" --conc "$CONC" --tsv "$OUT"
  for pid in "${pids[@]}"; do stop "$pid"; done
}

echo "$("$ORIGAMI_BIN" --version), $(nproc) cores; ${SIZES} sizes x $(compgen -G "$PHOTOS/*.jpg" | wc -l) photos, each URL ${REPEAT}x, c=$CONC"
echo "| balancer | requests | transforms (per replica) | derived reads | coalesced | working copies made | hit ratio | req/s | p99 ms | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for mode in $MODES; do run_mode "$mode"; done
echo "rows appended to $OUT"
