#!/usr/bin/env bash
# Fetch the real photographs used by Origami's benchmarks into benches/photos/
# (gitignored). See benches/photos.md for what each photo is and its licence.
#
# Usage: scripts/fetch-photos.sh            (from anywhere in the repository)
#        PHOTOS_DIR=/some/dir scripts/fetch-photos.sh
#
# The photos come from Debian bookworm wallpaper packages, fetched with
# `apt-get download` (nothing is installed) and unpacked with `dpkg-deb -x` in a
# temporary directory. Idempotent: photos already present with the expected
# content are left alone, and nothing is downloaded when all are present
# (delete benches/photos/ to fetch afresh).
# Works as root or as a normal user; a normal user needs apt's package lists
# (`sudo apt-get update` once) if they are missing.
#
# Derived copies, made losslessly with jpegtran (libjpeg-turbo-progs; taken from
# its .deb without installing it if jpegtran is not on PATH):
#   photo-a-progressive.jpg  photo-a re-encoded as progressive (same pixels)
#   photo-c-baseline.jpg     photo-c re-encoded as baseline, optimised Huffman tables (same pixels)
# so the corpus has baseline and progressive JPEGs at both a large and a small size.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${PHOTOS_DIR:-$ROOT/benches/photos}"

# name | package | path inside the package | sha256 of the file as shipped in bookworm
PHOTOS=(
  "photo-a.jpg|lomiri-wallpapers-20.04|usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg|6572410c09f4492c74ccadde133565a14c0161617d5917d4c820c66d65a44ba7"
  "photo-b.jpg|lomiri-wallpapers-16.04|usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg|a5634d1ab5e41a3568e92d4a894a500c92b891f9ff734e50bd224d6e185a605f"
  "photo-c.jpg|lomiri-wallpapers-16.04|usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg|4c119350ead80201fe256850c3d316309ddfb4bdf10b235ce982dcde0c667c05"
)
# derived name | source name | jpegtran options
DERIVED=(
  "photo-a-progressive.jpg|photo-a.jpg|-copy all -progressive"
  "photo-c-baseline.jpg|photo-c.jpg|-copy all -optimize"
)

log() { printf '%s\n' "$*" >&2; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p "$DEST"

# Which originals are missing? (Files are written via a temp name and renamed, so a
# present file is complete; its checksum is checked when it is downloaded.)
missing=()
for entry in "${PHOTOS[@]}"; do
  IFS='|' read -r name _ <<<"$entry"
  [[ -s "$DEST/$name" ]] || missing+=("$entry")
done
need_jpegtran=0
for entry in "${DERIVED[@]}"; do
  IFS='|' read -r name src _ <<<"$entry"
  [[ -s "$DEST/$name" && "$DEST/$name" -nt "$DEST/$src" ]] || need_jpegtran=1
done
[[ ${#missing[@]} -gt 0 ]] && need_jpegtran=1

TMP=""
cleanup() { if [[ -n "$TMP" ]]; then rm -rf "$TMP"; fi; }
trap cleanup EXIT

apt_download() {
  # apt-get download into the current directory. As root, skip apt's _apt sandbox
  # (it cannot write into a private temp dir and would only warn).
  local opts=()
  [[ $(id -u) -eq 0 ]] && opts=(-o APT::Sandbox::User=root)
  if ! apt-cache show "$1" >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]]; then
      log "apt has no list for $1; running apt-get update"
      apt-get update -qq >/dev/null
    else
      log "error: apt does not know package $1; run 'sudo apt-get update' and retry"
      exit 1
    fi
  fi
  apt-get download -qq "${opts[@]}" "$1" >/dev/null
}

if [[ ${#missing[@]} -gt 0 || $need_jpegtran -eq 1 ]]; then
  TMP="$(mktemp -d)"
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  declare -A fetched=()
  for entry in "${missing[@]}"; do
    IFS='|' read -r name pkg path want <<<"$entry"
    if [[ -z "${fetched[$pkg]:-}" ]]; then
      log "downloading $pkg"
      (cd "$TMP" && apt_download "$pkg")
      debs=("$TMP/${pkg}"_*.deb)
      deb="${debs[0]}"
      mkdir -p "$TMP/x/$pkg"
      dpkg-deb -x "$deb" "$TMP/x/$pkg"
      log "  $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
      fetched[$pkg]=1
    fi
    src="$TMP/x/$pkg/$path"
    [[ -f "$src" ]] || { log "error: $path not found in $pkg"; exit 1; }
    got="$(sha256 "$src")"
    if [[ "$got" != "$want" ]]; then
      log "warning: $name ($pkg:$path) has sha256 $got, expected $want; the package changed, update benches/photos.md"
    fi
    cp "$src" "$DEST/$name.tmp" && mv "$DEST/$name.tmp" "$DEST/$name"
    log "  -> $name"
  done
fi

if [[ $need_jpegtran -eq 1 ]]; then
  JPEGTRAN="$(command -v jpegtran || true)"
  if [[ -z "$JPEGTRAN" ]]; then
    log "jpegtran not on PATH; taking it from libjpeg-turbo-progs without installing"
    (cd "$TMP" && apt_download libjpeg-turbo-progs)
    debs=("$TMP"/libjpeg-turbo-progs_*.deb)
    mkdir -p "$TMP/jt" && dpkg-deb -x "${debs[0]}" "$TMP/jt"
    JPEGTRAN="$TMP/jt/usr/bin/jpegtran"
  fi
  for entry in "${DERIVED[@]}"; do
    IFS='|' read -r name src opts <<<"$entry"
    if [[ -s "$DEST/$name" && "$DEST/$name" -nt "$DEST/$src" ]]; then
      continue
    fi
    # shellcheck disable=SC2086 # opts is a list of words
    "$JPEGTRAN" $opts -outfile "$DEST/$name.tmp" "$DEST/$src"
    mv "$DEST/$name.tmp" "$DEST/$name"
    log "  -> $name (jpegtran $opts $src)"
  done
fi

# Summary table, read from the JPEG headers (python3 standard library only).
if ! command -v python3 >/dev/null; then
  log "python3 not found; skipping the summary table"
  ls -l "$DEST"
  exit 0
fi
python3 - "$DEST" "${PHOTOS[@]%%|*}" "${DERIVED[@]%%|*}" <<'PY'
import os, struct, sys

dest, names = sys.argv[1], sys.argv[2:]

def info(path):
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    pos, scans = 2, 0
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"bad marker at {pos}")
        m = data[pos + 1]
        if m == 0xFF:
            pos += 1
            continue
        (n,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if m in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[pos + 5 : pos + 9])
            comps = data[pos + 9]
            samp = [data[pos + 11 + 3 * i] for i in range(comps)]
            hs, vs = samp[0] >> 4, samp[0] & 15
            sub = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0"}.get((hs, vs), f"{hs}x{vs}") if comps == 3 else f"{comps} comp"
            return w, h, m == 0xC2, sub
        pos += 2 + n
    raise ValueError("no SOF")

print(f"{'name':26} {'dimensions':>11} {'MP':>5}  {'progressive':11} {'chroma':6} {'size':>8}")
for name in names:
    p = os.path.join(dest, name)
    w, h, prog, sub = info(p)
    print(f"{name:26} {f'{w}x{h}':>11} {w * h / 1e6:5.1f}  {'yes' if prog else 'no':11} {sub:6} {os.path.getsize(p) / 1e6:6.2f}MB")
PY
