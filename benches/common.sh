# shellcheck shell=bash
# Shared by benches/load.sh and benches/soak.sh (sourced, not run): tools, the release build,
# a scratch directory, process measurements and an `origami serve` over the photos (or over an
# empty store, for uploads).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PHOTOS="${PHOTOS_DIR:-$ROOT/benches/photos}"
PORT="${PORT:-18080}"
WRK_THREADS="${WRK_THREADS:-2}"
# origami's cache.memory_bytes during load and soak runs (64 MiB).
CACHE_BYTES="${CACHE_BYTES:-67108864}"

# install_missing PACKAGE_FOR_COMMAND...: "cmd:package" pairs, installed from Debian as root.
install_missing() {
  local need=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
  done
  [ "${#need[@]}" -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || { echo "$(basename "$0"): install ${need[*]} first" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

need_photos() { compgen -G "$PHOTOS/*.jpg" >/dev/null || "$ROOT/scripts/fetch-photos.sh"; }

# build_origami: the photos, and the release build in ORIGAMI_BIN (ORIGAMI_BIN=path in the
# environment: that binary, not built).
build_origami() {
  need_photos
  if [ -z "${ORIGAMI_BIN:-}" ]; then
    cargo build --release -q -p origami --manifest-path "$ROOT/Cargo.toml"
    ORIGAMI_BIN="$ROOT/target/release/origami"
  fi
}

WORK="$(mktemp -d)"
# mktemp makes it private; nginx's workers (user nobody when started as root) must read www/.
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_ready() { # URL: until it answers 2xx
  for _ in $(seq 1 100); do curl -fso /dev/null "$1" && return 0; sleep 0.1; done
  echo "$(basename "$0"): $1 never answered" >&2; exit 1
}
wait_listening() { # URL: until it answers at all (any status), without asking for real work
  for _ in $(seq 1 100); do curl -so /dev/null "$1" && return 0; sleep 0.1; done
  echo "$(basename "$0"): $1 never answered" >&2; exit 1
}

# need_jpegtran: sets JPEGTRAN, the one on PATH or else Debian's libjpeg-turbo-progs unpacked
# into $WORK (apt-get download + dpkg-deb -x, nothing installed; as in scripts/fetch-photos.sh).
need_jpegtran() {
  JPEGTRAN="$(command -v jpegtran || true)"
  [ -n "$JPEGTRAN" ] && return 0
  local opts=() debs
  # As root, skip apt's _apt sandbox (it cannot write into the private $WORK and would warn).
  [ "$(id -u)" -eq 0 ] && opts=(-o APT::Sandbox::User=root)
  if ! apt-cache show libjpeg-turbo-progs >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || { echo "$(basename "$0"): apt knows no libjpeg-turbo-progs; run 'sudo apt-get update'" >&2; exit 1; }
    apt-get update -qq >/dev/null
  fi
  (cd "$WORK" && apt-get download -qq "${opts[@]}" libjpeg-turbo-progs >/dev/null)
  debs=("$WORK"/libjpeg-turbo-progs_*.deb)
  dpkg-deb -x "${debs[0]}" "$WORK/jpegtran"
  JPEGTRAN="$WORK/jpegtran/usr/bin/jpegtran"
}

# The next four take a list of process ids (nginx's workers) and sum over them.
reset_peak_rss() { for p in $1; do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }
peak_rss_mb() { for p in $1; do cat "/proc/$p/status"; done | awk '/^VmHWM:/ {kb += $2} END {printf "%.0f", kb / 1024}'; }
rss_mb() { for p in $1; do cat "/proc/$p/status"; done | awk '/^VmRSS:/ {kb += $2} END {printf "%.0f", kb / 1024}'; }
cpu_ticks() { for p in $1; do cat "/proc/$p/stat"; done | awk '{sub(/^.*\) /, ""); t += $12 + $13} END {print t}'; }

# start_origami [EXTRA_ENV...]: stores the photos in a fresh local store ("<hash>  <path>" per
# photo in $WORK/keys) and starts `origami serve` over it (serve_origami).
start_origami() {
  fresh_store
  "$ORIGAMI_BIN" put "$PHOTOS"/*.jpg 2>/dev/null >"$WORK/keys"
  serve_origami "$@"
}

# fresh_store: points origami at a new, empty local store under $WORK.
STORES=0
fresh_store() {
  STORES=$((STORES + 1))
  export ORIGAMI_STORE__LOCAL_DIR="$WORK/data-$STORES"
  mkdir -p "$ORIGAMI_STORE__LOCAL_DIR"
}

# serve_origami [EXTRA_ENV...]: starts `origami serve` on $PORT over the current local store
# (quiet logs, into $ORIGAMI_LOG = $WORK/origami-<store>.log); sets ORIGAMI_PID.
serve_origami() {
  ORIGAMI_LOG="$WORK/origami-$STORES.log"
  env RUST_LOG=warn "$@" "$ORIGAMI_BIN" serve --listen "127.0.0.1:$PORT" 2>"$ORIGAMI_LOG" &
  ORIGAMI_PID=$!
  PIDS+=("$ORIGAMI_PID")
  wait_ready "http://127.0.0.1:$PORT/healthz"
}

# stop PID: ends one server this script started and waits for it (its port is free after).
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
