# Shared by benches/load.sh and benches/soak.sh (sourced, not run): tools, the release build,
# a scratch directory, process measurements and an `origami serve` over the photos.
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

build_origami() {
  compgen -G "$PHOTOS/*.jpg" >/dev/null || "$ROOT/scripts/fetch-photos.sh"
  cargo build --release -q -p origami --manifest-path "$ROOT/Cargo.toml"
  ORIGAMI="$ROOT/target/release/origami"
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

wait_ready() { # URL
  for _ in $(seq 1 100); do curl -fso /dev/null "$1" && return 0; sleep 0.1; done
  echo "$(basename "$0"): $1 never answered" >&2; exit 1
}

# The next four take a list of process ids (nginx's workers) and sum over them.
reset_peak_rss() { for p in $1; do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }
peak_rss_mb() { for p in $1; do cat "/proc/$p/status"; done | awk '/^VmHWM:/ {kb += $2} END {printf "%.0f", kb / 1024}'; }
rss_mb() { for p in $1; do cat "/proc/$p/status"; done | awk '/^VmRSS:/ {kb += $2} END {printf "%.0f", kb / 1024}'; }
cpu_ticks() { for p in $1; do cat "/proc/$p/stat"; done | awk '{sub(/^.*\) /, ""); t += $12 + $13} END {print t}'; }

# start_origami [EXTRA_ENV...]: stores the photos in a fresh local store ("<hash>  <path>" per
# photo in $WORK/keys) and starts `origami serve` on $PORT (quiet logs); sets ORIGAMI_PID.
start_origami() {
  export ORIGAMI_STORE__LOCAL_DIR="$WORK/data"
  "$ORIGAMI" put "$PHOTOS"/*.jpg 2>/dev/null >"$WORK/keys"
  env RUST_LOG=warn "$@" "$ORIGAMI" serve --listen "127.0.0.1:$PORT" 2>"$WORK/origami.log" &
  ORIGAMI_PID=$!
  PIDS+=("$ORIGAMI_PID")
  wait_ready "http://127.0.0.1:$PORT/healthz"
}
