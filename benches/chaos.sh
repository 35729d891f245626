#!/usr/bin/env bash
# Chaos drill under load (issue 15): `origami serve` (release) over two S3 regions (the tests'
# s3s servers, run by origami-store's `chaos_regions` example) with a steady load at c=CONC
# (originals, new thumbnail sizes, hot thumbnails), while one region is, phase by phase,
# stopped, slowed to 2 s per request, made to answer 500 to 30 % of requests, and given a
# corrupt copy of one original; then healthy again. Reports failed requests per phase (target:
# 0, every original being in both regions), p99 per phase against the healthy phase, the
# breaker transitions /readyz showed, integrity failures, and whether the corrupt copy was
# repaired. Driven by benches/chaos.py (see its docstring).
#
# Usage: benches/chaos.sh          (after scripts/fetch-photos.sh, or it fetches them)
# Env:   DURATION=20 (s per phase)  CONC=8  PORT=18080  ORIGAMI_BIN=path (not built)
#        OUT=target/load/chaos.tsv (rows appended)
set -euo pipefail
# shellcheck source=benches/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
DURATION="${DURATION:-20}"
CONC="${CONC:-8}"
OUT="${OUT:-$ROOT/target/load/chaos.tsv}"
mkdir -p "$(dirname "$OUT")"

build_origami
cargo build --release -q -p origami-store --features test-support --example chaos_regions \
  --manifest-path "$ROOT/Cargo.toml"
echo "$("$ORIGAMI_BIN" --version), $(nproc) cores, c=$CONC, ${DURATION} s per phase"
python3 "$ROOT/benches/chaos.py" --origami "$ORIGAMI_BIN" \
  --regions "$ROOT/target/release/examples/chaos_regions" --photos "$PHOTOS" \
  --duration "$DURATION" --conc "$CONC" --port "$PORT" --tsv "$OUT"
