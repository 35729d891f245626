#!/usr/bin/env bash
# Installs the system packages Origami's build needs, if they are missing:
#   cmake, nasm  - build the vendored libjpeg-turbo 3 (with its SIMD) and rav1e's assembly
#   pkg-config   - used by some -sys crates' build scripts
#   promtool     - (Debian package `prometheus`) the tests run deploy/alerts.yml through it
#   node         - (Debian package `nodejs`) the tests run deploy/cloudfront.md's function
#   libheif      - (Debian package `libheif-dev`, with its HEVC and AV1 decoders) HEIC and AVIF
#                  input, linked by libheif-sys
# Debian/Ubuntu only (apt-get); as root it installs, otherwise it tells you what to run.
set -euo pipefail
missing=()
# command:package
for pair in cmake:cmake nasm:nasm pkg-config:pkg-config promtool:prometheus node:nodejs; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
# Libraries: a header that only the -dev package installs.
for pair in libheif/heif.h:libheif-dev; do
  compgen -G "/usr/include/${pair%%:*}" >/dev/null || compgen -G "/usr/include/*/${pair%%:*}" >/dev/null \
    || missing+=("${pair#*:}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
