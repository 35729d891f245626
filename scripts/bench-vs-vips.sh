#!/usr/bin/env bash
# Whole-process comparison of `origami transform` against libvips' `vipsthumbnail` on the
# benchmark photos: 400x300 centre cover-crop, JPEG quality 80, both timed by hyperfine -N in
# one run, plus each tool's peak RSS (GNU time) next to the size of origami's decoded
# (shrunk) image. Installs hyperfine, libvips-tools and time from Debian when missing (root).
#
# Usage: scripts/bench-vs-vips.sh          (after scripts/fetch-photos.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PHOTOS="${PHOTOS_DIR:-$ROOT/benches/photos}"
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v vipsthumbnail >/dev/null || need+=(libvips-tools)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "install: ${need[*]}" >&2; exit 1; }
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -d "$PHOTOS" ] || "$ROOT/scripts/fetch-photos.sh"
cargo build --release -q -p origami --manifest-path "$ROOT/Cargo.toml"
ORIGAMI="$ROOT/target/release/origami"
OUT="$(mktemp -d)"; trap 'rm -rf "$OUT"' EXIT

printf '| photo | MP | origami ms | vipsthumbnail ms | speed-up | origami peak RSS MB | vips peak RSS MB | decoded (shrunk) image MB |\n|---|---|---|---|---|---|---|---|\n'
for photo in "$PHOTOS"/*.jpg; do
  name="$(basename "$photo")"
  json="$(hyperfine -N -w 3 -r 20 --export-json "$OUT/h.json" \
    "$ORIGAMI transform $photo thumb/400/300 $OUT/o.jpg" \
    "vipsthumbnail $photo --size 400x300 --smartcrop centre -o $OUT/v.jpg[Q=80]" >/dev/null 2>&1; cat "$OUT/h.json")"
  read -r o_ms v_ms < <(python3 -c 'import json,sys; r=json.load(sys.stdin)["results"]; print(r[0]["mean"]*1000, r[1]["mean"]*1000)' <<<"$json")
  rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
  o_rss="$(rss "$ORIGAMI" transform "$photo" thumb/400/300 "$OUT/o.jpg")"
  v_rss="$(rss vipsthumbnail "$photo" --size 400x300 --smartcrop centre -o "$OUT/v.jpg[Q=80]")"
  read -r mp shrunk < <("$ORIGAMI" probe "$photo" | python3 -c '
import json,sys
i=json.load(sys.stdin); w,h=i["width"],i["height"]
# the DCT scale origami picks for thumb/400/300: smallest of 1/8,1/4,1/2 leaving 2x the cover size
s=max(400/w,300/h); need=(w*s*2,h*s*2)
scale=next((f for f in (1/8,1/4,1/2) if -(-w*f//1)>=need[0] and -(-h*f//1)>=need[1]),1)
print(f"{w*h/1e6:.1f}", f"{(w*scale)*(h*scale)*3/1e6:.1f}")')
  awk -v n="$name" -v mp="$mp" -v o="$o_ms" -v v="$v_ms" -v orss="$o_rss" -v vrss="$v_rss" -v s="$shrunk" \
    'BEGIN{printf "| %s | %s | %.1f | %.1f | %.2fx | %.1f | %.1f | %s |\n", n, mp, o, v, v/o, orss/1024, vrss/1024, s}'
done
