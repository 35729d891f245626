#!/usr/bin/env bash
# Makes one ~12 MP sample of each input format from the same photograph, for the criterion
# group `decode-formats` (benches/engine.rs) and the README's table against vipsthumbnail:
# a 4000x2988 crop of benches/photos/photo-b.jpg saved as JPEG q90, PNG, WebP q90 and LZW TIFF
# by `vips`, HEIC and AVIF by `heif-enc -q 80`, JPEG XL by `cjxl -d 1`.
#
# Usage: scripts/fetch-photos.sh && benches/format-samples.sh   (writes target/format-samples/)
# Needs libvips-tools, libheif-examples and libjxl-tools (apt-get install them; the tests do
# not need any of this).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PHOTO="$ROOT/benches/photos/photo-b.jpg"
OUT="${ORIGAMI_FORMAT_SAMPLES:-$ROOT/target/format-samples}"
[ -f "$PHOTO" ] || { echo "no $PHOTO: run scripts/fetch-photos.sh first" >&2; exit 1; }
for tool in vips heif-enc cjxl; do
  command -v "$tool" >/dev/null || {
    echo "$tool is missing: apt-get install libvips-tools libheif-examples libjxl-tools" >&2
    exit 1
  }
done
mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
vips crop "$PHOTO" "$TMP/crop.v" 0 0 4000 2988
vips copy "$TMP/crop.v" "$OUT/sample.jpg[Q=90]"
vips copy "$TMP/crop.v" "$OUT/sample.png"
vips copy "$TMP/crop.v" "$OUT/sample.webp[Q=90]"
vips copy "$TMP/crop.v" "$OUT/sample.tif[compression=lzw]"
heif-enc -q 80 "$OUT/sample.png" -o "$OUT/sample.heic" >/dev/null
heif-enc -A -q 80 "$OUT/sample.png" -o "$OUT/sample.avif" >/dev/null
cjxl -d 1 --quiet "$OUT/sample.png" "$OUT/sample.jxl"
ls -l "$OUT"
