#!/usr/bin/env bash
# Installs the system packages Origami's build needs, if they are missing:
#   cmake, nasm  - build the vendored libjpeg-turbo 3 (with its SIMD) and rav1e's assembly
#   pkg-config   - used by some -sys crates' build scripts
# Debian/Ubuntu only (apt-get); as root it installs, otherwise it tells you what to run.
set -euo pipefail
missing=()
for tool in cmake nasm pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing build tools: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing build tools: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
