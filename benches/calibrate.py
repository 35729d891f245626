#!/usr/bin/env python3
"""Fit and check the engine's cost model (crates/origami-engine/src/cost.rs).

Runs `origami transform` over the benchmark photos (and PNG, WebP and GIF copies of one) with
a spread of pipelines and output formats. For each run it records the engine's estimate
(`--estimate`: CPU milliseconds, peak memory, and the pixel counts they come from) and the
measurement (`/usr/bin/time`: user + system CPU seconds, peak RSS). Then it

  1. fits the per-pixel weights (nanoseconds per pixel of each stage) by non-negative least
     squares on relative error, and prints them next to the ones in cost.rs;
  2. prints estimate / measurement for CPU time and memory, per run and summarised;
  3. prints a memory table for issue 16's hard cases (a lossless 4096^2 WebP, a 49 MP 16-bit
     PNG), with limits.max_cost lifted so they run (--cases-only: only this).

Usage: scripts/fetch-photos.sh; cargo build --release -p origami
       python3 benches/calibrate.py [--quick] [--origami target/release/origami]

Memory: the engine's part of a run's peak RSS is the peak minus the process's own (a 1-pixel
run) minus the input file; the estimate is what the server reserves from its transform budget
for the same work.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS = os.path.join(ROOT, "benches", "photos")

# Stage -> (name of the weight in cost.rs, initial value) in the order of the features below.
# WEBP_STORED (libwebp's VP8 decoding per stored pixel, whatever the output scale) is not fitted
# here: it comes from criterion's `decode-formats` group, and WEBP_DECODED here is the rest.
FEATURES = [
    "JPEG_ENTROPY", "JPEG_PROGRESSIVE_ENTROPY", "JPEG_DECODED", "PNG_DECODED",
    "WEBP_DECODED", "GIF_DECODED", "RESAMPLED", "BLURRED", "JPEG_ENCODED", "PNG_ENCODED",
    "WEBP_ENCODED", "WEBP_LOSSLESS_ENCODED", "AVIF_ENCODED", "GIF_ENCODED",
]


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def probe(origami, path):
    out = run([origami, "probe", path])
    return json.loads(out.stdout)


def features(source, progressive, output, lossless, est):
    f = dict.fromkeys(FEATURES, 0.0)
    src, dec = est["source_pixels"], est["decoded_pixels"]
    if source == "jpeg":
        f["JPEG_PROGRESSIVE_ENTROPY" if progressive else "JPEG_ENTROPY"] = src
        f["JPEG_DECODED"] = dec
    else:
        f[source.upper() + "_DECODED"] = dec
    f["RESAMPLED"] = est["resampled_pixels"]
    f["BLURRED"] = est["blurred_pixels"]
    enc = "WEBP_LOSSLESS_ENCODED" if lossless else output.upper() + "_ENCODED"
    f[enc] = est["encoded_pixels"]
    return [f[name] for name in FEATURES]


def nnls(rows, targets, iterations=4000):
    """Non-negative least squares by projected coordinate descent (no numpy needed)."""
    n = len(rows[0])
    x = [0.0] * n
    col_sq = [sum(r[j] ** 2 for r in rows) for j in range(n)]
    residual = [t - 0.0 for t in targets]
    for _ in range(iterations):
        for j in range(n):
            if col_sq[j] == 0:
                continue
            grad = sum(r[j] * e for r, e in zip(rows, residual))
            new = max(0.0, x[j] + grad / col_sq[j])
            delta = new - x[j]
            if delta:
                for i, r in enumerate(rows):
                    residual[i] -= delta * r[j]
                x[j] = new
    return x


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--origami", default=os.path.join(ROOT, "target/release/origami"))
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument("--cases-only", action="store_true",
                        help="only the memory cases of issue 16 (no fit)")
    args = parser.parse_args()
    origami = args.origami
    work = tempfile.mkdtemp(prefix="origami-calibrate-")
    inputs = [os.path.join(PHOTOS, n) for n in sorted(os.listdir(PHOTOS)) if n.endswith(".jpg")]
    base = os.path.join(PHOTOS, "photo-c-baseline.jpg")
    for ext in ("png", "webp", "gif"):
        made = os.path.join(work, f"photo-c.{ext}")
        run([origami, "transform", base, "fit/2400/2400", made]).check_returncode()
        inputs.append(made)
    pipelines = [("thumb/200/200", ["jpg", "webp", "avif", "png"]),
                 ("fit/1024/1024", ["jpg", "webp", "png", "avif", "gif"]),
                 ("fit/2048/2048", ["jpg", "webp", "png"]),
                 ("fit/1024/1024/blur/8", ["jpg"]),
                 ("fit/1024/1024/q/100", ["webp"]),
                 ("thumb/4096/4096", ["jpg", "webp"]),
                 ("fit/2048/2048/q/100", ["webp"])]
    if args.quick:
        inputs = inputs[:1] + inputs[-3:]
    # The process's own resident memory (code, runtime), measured on a 1-pixel job, and each
    # input file (read whole) are not part of the engine's estimate.
    tiny = os.path.join(ROOT, "fixtures", "tiny.png")
    base = run(["/usr/bin/time", "-f", "%M", origami, "transform", tiny, "fit/1/1",
                os.path.join(work, "tiny.png")])
    base_rss = int(base.stderr.strip().splitlines()[-1]) * 1024
    print(f"process baseline RSS: {base_rss / 2**20:.0f} MiB")
    if args.cases_only:
        issue16_cases(origami, work, base_rss)
        return
    rows, targets, records = [], [], []
    for path in inputs:
        info = probe(origami, path)
        source = {"jpg": "jpeg"}.get(info["format"], info["format"])
        progressive = bool(info.get("progressive"))
        for ops, outputs in pipelines:
            for ext in outputs:
                out = os.path.join(work, "out." + ext)
                est = run([origami, "transform", "--estimate", path, ops, out])
                if est.returncode != 0:
                    continue
                est = json.loads(est.stdout)
                timed = run(["/usr/bin/time", "-f", "%U %S %M", origami, "transform", path,
                             ops, out])
                if timed.returncode != 0:
                    print(f"skip {path} {ops} {ext}: {timed.stderr.strip()[-200:]}",
                          file=sys.stderr)
                    continue
                user, system, rss_kb = timed.stderr.strip().splitlines()[-1].split()
                cpu_ms = (float(user) + float(system)) * 1000
                lossless = ext == "webp" and ops.endswith("q/100")
                output = {"jpg": "jpeg"}.get(ext, ext)
                row = features(source, progressive, output, lossless, est)
                # Relative error: divide by the measurement. 1e6 ns per ms.
                rows.append([v / 1e6 / max(cpu_ms, 1.0) for v in row])
                targets.append(1.0)
                engine_rss = int(rss_kb) * 1024 - base_rss - os.path.getsize(path)
                records.append((os.path.basename(path), ops, ext, est, cpu_ms,
                                max(engine_rss, 1 << 20), row))
                print(f"{os.path.basename(path):24} {ops:22} {ext:5} est {est['work_ms']:6} ms"
                      f"  cpu {cpu_ms:7.0f} ms  est {est['memory_bytes'] / 2**20:6.0f} MiB"
                      f"  rss {int(rss_kb) / 1024:6.0f} MiB"
                      f"  (engine {records[-1][5] / 2**20:4.0f} MiB)", flush=True)
    fitted = nnls(rows, targets)
    print("\nFitted weights (ns per pixel):")
    for name, value in zip(FEATURES, fitted):
        print(f"  {name:24} {value:8.1f}")
    print("\nEstimate / measured, with the weights in cost.rs (the --estimate column):")
    ratios_cpu = sorted(r[3]["work_ms"] / max(r[4], 1.0) for r in records)
    ratios_mem = sorted(r[3]["memory_bytes"] / r[5] for r in records)
    refit = sorted(sum(w * v for w, v in zip(fitted, r[6])) / 1e6 / max(r[4], 1.0)
                   for r in records)

    def summary(name, xs):
        mid = xs[len(xs) // 2]
        print(f"  {name:28} min {xs[0]:5.2f}  median {mid:5.2f}  max {xs[-1]:5.2f}"
              f"  (n={len(xs)})")
    summary("CPU, cost.rs weights", ratios_cpu)
    summary("CPU, fitted weights", refit)
    summary("peak memory (engine's part)", ratios_mem)
    big = sorted(r[3]["memory_bytes"] / r[5] for r in records if r[5] >= 64 << 20)
    if big:
        summary("... of runs over 64 MiB", big)
    issue16_cases(origami, work, base_rss)


def write_rgb16_png(path, width, height):
    """A 16-bit RGB PNG of shifted noise (no third-party module needed)."""
    import random
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rng = random.Random(16)
    # A short noisy period repeated: real pixels to decode, a file far under max_input_bytes.
    period = bytes(rng.getrandbits(8) for _ in range(6 * 997))
    noise = (period * (width * 6 // len(period) + 1))[:width * 6]
    deflate = zlib.compressobj(1)
    parts = []
    for y in range(height):
        shift = (y * 7) % (width * 6)
        row = noise[shift:] + noise[:shift]
        parts.append(deflate.compress(b"\0" + row))
    parts.append(deflate.flush())
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                  + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


def issue16_cases(origami, work, base_rss):
    """Issue 16's under-estimated cases: estimate vs peak RSS (minus the process baseline and
    the input), with limits.max_cost lifted so the estimate is printed and the work runs."""
    png16 = os.path.join(work, "rgb16-49mp.png")
    write_rgb16_png(png16, 7000, 7000)
    small = os.path.join(ROOT, "fixtures", "baseline.jpg")
    cases = [(small, "thumb/4096/4096/q/100", "webp", "4096^2 lossless WebP of a 33 KB JPEG"),
             (png16, "fit/1024/1024", "jpg", "49 MP 16-bit PNG to a 1024 px JPEG"),
             (png16, "fit/2048/2048", "webp", "49 MP 16-bit PNG to a 2048 px WebP")]
    env = dict(os.environ, ORIGAMI_LIMITS__MAX_COST="3600000")
    print("\n| case | estimate MiB | peak RSS MiB | engine's part MiB | estimate / engine |")
    print("| --- | --- | --- | --- | --- |")
    for path, ops, ext, name in cases:
        out = os.path.join(work, "case." + ext)
        est = subprocess.run([origami, "transform", "--estimate", path, ops, out],
                             capture_output=True, text=True, env=env)
        timed = subprocess.run(["/usr/bin/time", "-f", "%M", origami, "transform", path, ops,
                                out], capture_output=True, text=True, env=env)
        if est.returncode != 0 or timed.returncode != 0:
            print(f"| {name} | failed: {(est.stderr + timed.stderr).strip()[-120:]} | | | |")
            continue
        estimate = json.loads(est.stdout)["memory_bytes"]
        rss = int(timed.stderr.strip().splitlines()[-1]) * 1024
        engine = max(rss - base_rss - os.path.getsize(path), 1 << 20)
        print(f"| {name} | {estimate / 2**20:.0f} | {rss / 2**20:.0f} | {engine / 2**20:.0f} "
              f"| {estimate / engine:.2f} |", flush=True)


if __name__ == "__main__":
    main()
