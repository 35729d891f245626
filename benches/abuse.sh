#!/usr/bin/env bash
# Hostile-traffic benchmark (issue 16): ordinary cold traffic alone, then next to a flood of 30
# concurrent pathological URLs (lossless ~4000 px WebPs of a 33 KB original, which the cost
# model refuses with 422 before any work), then next to a flood of 30 concurrent costly but
# allowed URLs (lossless WebP and AVIF of the photos at 1600-2200 px, which run in the
# expensive lane). Reports the ordinary requests' success rate and p99, and the p99 against the
# no-flood p99 (target: 100 % and <= 3x). Driven by benches/abuse.py; see its docstring for the
# traffic's shape.
#
# `origami serve` runs in release, default configuration (cache.memory_bytes = CACHE_BYTES),
# over a fresh local store holding the photos and fixtures/baseline.jpg.
#
# Usage: benches/abuse.sh                      (after scripts/fetch-photos.sh, or it fetches them)
# Env:   DURATION=30 (s of ordinary traffic per phase)  ORD_CONC=2  FLOOD_CONC=30
#        FLOOD_PAUSE=0.1 (s between a flood client's answer and its next request)
#        PHASES="none pathological expensive"  PORT=18080  ORIGAMI_BIN=path (not built)
#        OUT=target/load/abuse.tsv (rows appended)
set -euo pipefail
# shellcheck source=benches/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
DURATION="${DURATION:-30}"
ORD_CONC="${ORD_CONC:-2}"
FLOOD_CONC="${FLOOD_CONC:-30}"
FLOOD_PAUSE="${FLOOD_PAUSE:-0.1}"
PHASES="${PHASES:-none pathological expensive}"
OUT="${OUT:-$ROOT/target/load/abuse.tsv}"
mkdir -p "$(dirname "$OUT")"

build_origami
start_origami "ORIGAMI_CACHE__MEMORY_BYTES=$CACHE_BYTES"
small="$("$ORIGAMI_BIN" put "$ROOT/fixtures/baseline.jpg" 2>/dev/null | awk '{print $1}')"
mapfile -t photos < <(awk '{print $1}' "$WORK/keys")
echo "$("$ORIGAMI_BIN" --version 2>/dev/null || true), $(nproc) cores, photos: ${#photos[@]}"
python3 "$ROOT/benches/abuse.py" "http://127.0.0.1:$PORT" "$small" "${photos[@]}" \
  --duration "$DURATION" --ord-conc "$ORD_CONC" --flood-conc "$FLOOD_CONC" \
  --flood-pause "$FLOOD_PAUSE" --phases "$PHASES" --tsv "$OUT"
echo "server peak RSS: $(peak_rss_mb "$ORIGAMI_PID") MiB; rows appended to $OUT"
