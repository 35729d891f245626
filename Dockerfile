# syntax=docker/dockerfile:1
# Origami container image: a release build on Debian bookworm, run from debian:bookworm-slim
# as an unprivileged user. Configure with ORIGAMI_* variables or a mounted TOML file
# (ORIGAMI_CONFIG=/etc/origami/origami.toml); variables win over the file.
#
#   docker build -t origami .
#   docker run -p 8080:8080 -v origami-data:/data origami

# The toolchain matches `rust-version` in Cargo.toml.
FROM rust:1.95-bookworm AS builder
# cmake + nasm build the vendored libjpeg-turbo (nasm: its SIMD code) and libwebp;
# libheif-dev is linked for HEIC and AVIF input (bookworm's 1.15, with libde265 and dav1d).
# Not version-pinned: bookworm's point releases replace these packages, and a pin would break
# the build instead of picking up security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake nasm pkg-config libheif-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# No `-C target-cpu=native`: libjpeg-turbo, libwebp and fast_image_resize pick their SIMD code
# at run time, so the image runs on any x86-64 machine, not only on the build host's CPU. The cache mounts keep the
# registry and the target directory between builds; the binary is copied out of the mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release -p origami --locked \
 && install -m 0755 target/release/origami /usr/local/bin/origami

FROM debian:bookworm-slim
# ca-certificates: TLS to S3; libheif1: HEIC and AVIF input (it pulls its HEVC and AV1
# decoders). (The HEALTHCHECK is `origami healthcheck`: no HTTP client needed.)
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libheif1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 origami \
 && useradd --system --uid 10001 --gid origami --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin origami \
 && mkdir /data \
 && chown origami:origami /data
COPY --from=builder /usr/local/bin/origami /usr/local/bin/origami

# Listen on every interface inside the container; without [[store.s3]] regions, originals go to
# the /data volume.
ENV ORIGAMI_LISTEN=0.0.0.0:8080 \
    ORIGAMI_STORE__LOCAL_DIR=/data
VOLUME /data
EXPOSE 8080
# A numeric UID so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
# `origami healthcheck` asks /healthz at the configured `listen` (ORIGAMI_LISTEN, or the
# ORIGAMI_CONFIG file), on loopback for 0.0.0.0: overriding the address cannot break the check.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["origami", "healthcheck", "--timeout-ms", "2000"]
# origami is PID 1 on purpose: it handles SIGTERM itself (stop accepting, drain in-flight
# requests, exit), so no init shim is needed.
ENTRYPOINT ["origami"]
CMD ["serve", "--log-format", "json"]
