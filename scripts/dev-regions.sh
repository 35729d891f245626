#!/usr/bin/env bash
# Two-region Origami on one machine, without Docker: two S3 servers on loopback standing for
# us-east-1 and eu-west-1, and `origami serve` reading and writing both.
#
#   scripts/dev-regions.sh               start everything in the foreground; Ctrl-C stops it all
#   scripts/dev-regions.sh stop REGION   stop one region of the running demo (a real outage:
#                                        the port closes, connections drop)
#   scripts/dev-regions.sh start REGION  start it again on the same port, with the same data
#   scripts/dev-regions.sh env           print the exports for `origami put/get/sync` against it
#   scripts/dev-regions.sh s3s-fs        print the s3s-fs binary's path (installing it once;
#                                        benches/fleet.sh uses it)
#
# The S3 servers are s3s-fs, the server the tests embed (origami_store::testing), installed
# from crates.io at the version crates/origami-store/Cargo.toml pins, with the tests'
# credentials. One process per region (rather than the failover_bench example, which runs both
# regions in one process on random ports) so that one region can be stopped and started alone.
#
# Environment: ORIGAMI_DEV_DIR (state and data, default target/dev-regions), ORIGAMI_DEV_PORT
# (8080), US_PORT (9000), EU_PORT (9100), ORIGAMI_BIN (use this origami binary instead of
# building one), S3S_FS (use this s3s-fs binary instead of installing one).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${ORIGAMI_DEV_DIR:-$ROOT/target/dev-regions}
ORIGAMI_PORT=${ORIGAMI_DEV_PORT:-8080}
US_PORT=${US_PORT:-9000}
EU_PORT=${EU_PORT:-9100}
REGIONS="us-east-1 eu-west-1"
BUCKET=origami
TOKEN=dev-upload-token
# The credentials of the tests' S3 servers (origami_store::testing::{ACCESS_KEY_ID, ...}).
ACCESS_KEY="origami-test-key"
SECRET_KEY="origami-test-secret-0123456789"
TOOLS=$ROOT/target/tools

die() { echo "dev-regions: $*" >&2; exit 1; }

port_of() {
  case $1 in
    us-east-1) echo "$US_PORT" ;;
    eu-west-1) echo "$EU_PORT" ;;
    *) die "unknown region '$1' (one of: $REGIONS)" ;;
  esac
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits until something answers HTTP at $1 (any status: an S3 server says 403 to anonymous).
wait_http() {
  for _ in $(seq 1 100); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  die "nothing answers at $1 after 10 s"
}

s3s_fs() {
  if [ -n "${S3S_FS:-}" ]; then echo "$S3S_FS"; return; fi
  local version
  version=$(sed -n 's/^s3s-fs = { version = "=\([^"]*\)".*/\1/p' "$ROOT/crates/origami-store/Cargo.toml")
  [ -n "$version" ] || die "cannot read the s3s-fs version from crates/origami-store/Cargo.toml"
  if ! "$TOOLS/bin/s3s-fs" --version 2>/dev/null | grep -qF "$version"; then
    echo "installing s3s-fs $version into $TOOLS (once)..." >&2
    cargo install --quiet --locked --root "$TOOLS" --version "$version" --features binary s3s-fs >&2
  fi
  echo "$TOOLS/bin/s3s-fs"
}

start_region() {
  local region=$1 port
  port=$(port_of "$region")
  running "$DIR/$region.pid" && die "$region is already running"
  curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && die "port $port is already in use"
  # s3s-fs keeps each bucket as a directory under its root.
  mkdir -p "$DIR/$region/$BUCKET"
  nohup "$(s3s_fs)" --host 127.0.0.1 --port "$port" \
    --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" "$DIR/$region" \
    >>"$DIR/$region.log" 2>&1 &
  echo $! >"$DIR/$region.pid"
  wait_http "http://127.0.0.1:$port/"
  running "$DIR/$region.pid" || die "s3s-fs for $region exited; see $DIR/$region.log"
  echo "region $region up on http://127.0.0.1:$port" >&2
}

stop_region() {
  local region=$1
  port_of "$region" >/dev/null
  running "$DIR/$region.pid" || die "$region is not running"
  kill "$(cat "$DIR/$region.pid")"
  rm -f "$DIR/$region.pid"
  echo "region $region stopped" >&2
}

print_env() {
  echo "export AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY ORIGAMI_CONFIG=$DIR/origami.toml"
}

write_config() {
  cat >"$DIR/origami.toml" <<EOF
# Written by scripts/dev-regions.sh.
listen = "127.0.0.1:$ORIGAMI_PORT"

[[store.s3]]
name = "us-east-1"
bucket = "$BUCKET"
region = "us-east-1"
endpoint = "http://127.0.0.1:$US_PORT"

[[store.s3]]
name = "eu-west-1"
bucket = "$BUCKET"
region = "eu-west-1"
endpoint = "http://127.0.0.1:$EU_PORT"

[security]
upload_token = "$TOKEN"
EOF
}

cleanup() {
  local name
  # Origami first (it drains on SIGTERM), then the regions, including any restarted by `start`.
  for name in origami $REGIONS; do
    [ -f "$DIR/$name.pid" ] && kill "$(cat "$DIR/$name.pid")" 2>/dev/null
    rm -f "$DIR/$name.pid"
  done
}

up() {
  command -v curl >/dev/null || die "curl is needed"
  mkdir -p "$DIR"
  running "$DIR/origami.pid" && die "already running (pid $(cat "$DIR/origami.pid"))"
  local origami=${ORIGAMI_BIN:-}
  if [ -z "$origami" ]; then
    echo "building origami (release)..." >&2
    (cd "$ROOT" && cargo build --release -p origami)
    origami=$ROOT/target/release/origami
  fi
  s3s_fs >/dev/null # install it now, not inside the first region's start
  write_config
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  local region
  for region in $REGIONS; do start_region "$region"; done

  AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY \
    "$origami" --config "$DIR/origami.toml" serve >>"$DIR/origami.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$DIR/origami.pid"
  local base=http://127.0.0.1:$ORIGAMI_PORT
  wait_http "$base/readyz"
  running "$DIR/origami.pid" || die "origami exited; see $DIR/origami.log"

  cat <<EOF

Origami: $base (log: $DIR/origami.log)
Regions: us-east-1 http://127.0.0.1:$US_PORT, eu-west-1 http://127.0.0.1:$EU_PORT
         (objects under $DIR/<region>/$BUCKET)

  # Upload an original (stored in both regions); the answer carries its hash:
  curl -s -H 'Authorization: Bearer $TOKEN' --data-binary @fixtures/baseline.jpg $base/originals
  # A thumbnail; X-Origami-Region names the region the original came from:
  curl -s -D - -o thumb.webp $base/thumb/400/300/HASH.webp

  # Take one region down, then ask for a size not cached yet: still 200, from the other region.
  scripts/dev-regions.sh stop us-east-1
  curl -s -D - -o /dev/null $base/thumb/200/150/HASH.webp
  curl -s $base/readyz          # ready; us-east-1 shows "up": false once its breaker opens
  scripts/dev-regions.sh start us-east-1

  # Uploads made while a region was down are in one region only; copy them over:
  eval "\$(scripts/dev-regions.sh env)" && $origami sync

Ctrl-C stops Origami and both regions.
EOF
  wait "$pid"
}

case ${1:-up} in
  up) up ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop REGION"; stop_region "$2" ;;
  start) [ $# -eq 2 ] || die "usage: $0 start REGION"; start_region "$2" ;;
  env) print_env ;;
  s3s-fs) s3s_fs ;;
  -h | --help | help) sed -n '2,20p' "$0" ;;
  *) die "unknown command '$1' (up, stop REGION, start REGION, env, s3s-fs)" ;;
esac
