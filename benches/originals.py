#!/usr/bin/env python3
"""New-originals workloads of benches/load.sh (Python 3 standard library only).

  originals.py crops JPEGTRAN OUT_DIR SET:N... --photos PHOTO...
      Makes N new originals per SET (into OUT_DIR/SET/SET-000.jpg, ...) from the photos by
      lossless crops with jpegtran: `-crop WxH+X+Y` (X and Y on iMCU boundaries, so the size is
      exactly WxH), every other file `-progressive`, the rest `-optimize` (baseline), `-copy all`.
      Each crop keeps a random 50-100 % of its photo's area; where 50 % would be under 6 MP the
      lower bound rises toward 6 MP, to 90 % at most: a 20 MP photo gives 10-20 MP crops, a 16 MP
      one 8-16 MP, a 6.3 MP one 5.7-6.3 MP. Photos are taken in turn. Each set has its own fixed seed (the same files every run); all
      files of one call have distinct bytes (checked with SHA-256), so sets are disjoint.

  originals.py drive --server origami|sharp --workload first-touch|burst --conc C BASE FILE...
      Requests the FILEs' thumbnails from the server at BASE (http://host:port), C originals in
      flight at once. Per original:
        origami  POST the bytes to /originals (Authorization: Bearer $UPLOAD_TOKEN, expects 201
                 and {"hash": ...}), then GET the thumbnail(s) of that hash;
        sharp    GET the thumbnail(s) of the file's stem (the file is already in its CORPUS_DIR).
      first-touch: one GET, /thumb/400/300/<id>.jpg.
      burst:       five GETs sent at once (a srcset): /thumb/{1280/853,960/640,640/427,320/213,
                   400/300}/<id>.jpg, so up to 5*C requests in flight.
      A request fails on a connection error or timeout, an unexpected status, or a thumbnail
      that is not a JPEG. The latency of an original runs from its first request's start to its
      last response's end; p50/p99 are nearest-rank over the originals that had no failure.
      Prints one line `RESULT requests=<originals> duration_us=<wall time of the whole set>
      p50_us=.. p99_us=.. errors=<failed requests> http_requests=.. bytes=..` (the same keys as
      benches/load.lua's) and the first failures to stderr.
"""

import argparse
import concurrent.futures as cf
import hashlib
import http.client
import json
import os
import random
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib

SRCSET = [(1280, 853), (960, 640), (640, 427), (320, 213), (400, 300)]
FIRST_TOUCH = [(400, 300)]
MIN_MP = 6e6


# --- crops ---------------------------------------------------------------------------------------


def jpeg_geometry(path):
    """(width, height, iMCU width, iMCU height) from the JPEG's SOF segment."""
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    if data[:2] != b"\xff\xd8":
        raise ValueError(f"{path}: not a JPEG")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"{path}: bad marker at {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            comps = data[pos + 9]
            samp = [data[pos + 11 + 3 * i] for i in range(comps)]
            hmax = max(s >> 4 for s in samp)
            vmax = max(s & 15 for s in samp)
            return width, height, 8 * hmax, 8 * vmax
        pos += 2 + length
    raise ValueError(f"{path}: no SOF in the first MB")


def crop_rect(rng, width, height, mcu_w, mcu_h):
    area = width * height
    low = max(0.5, min(0.9, MIN_MP / area))
    frac = rng.uniform(low, 1.0)
    # Vary the aspect ratio a little: split the area fraction unevenly between the two sides.
    fw = min(1.0, frac**0.5 * rng.uniform(0.92, 1.08))
    fh = min(1.0, frac / fw)
    w = max(mcu_w, int(width * fw))
    h = max(mcu_h, int(height * fh))
    x = rng.randrange(0, width - w + 1) // mcu_w * mcu_w
    y = rng.randrange(0, height - h + 1) // mcu_h * mcu_h
    return w, h, x, y


def make_crops(args):
    photos = args.photos
    if not photos:
        sys.exit("originals.py crops: no photos")
    geometry = {p: jpeg_geometry(p) for p in photos}
    jobs = []  # (out, photo, rect, mode, set_name, rng)
    for spec in args.sets:
        name, _, count = spec.partition(":")
        os.makedirs(os.path.join(args.out, name), exist_ok=True)
        # A fixed seed per set: the same files in every run, whichever sets are asked for.
        rng = random.Random(zlib.crc32(name.encode()))
        for i in range(int(count)):
            photo = photos[i % len(photos)]
            mode = "-progressive" if i % 2 == 0 else "-optimize"
            out = os.path.join(args.out, name, f"{name}-{i:03d}.jpg")
            jobs.append([out, photo, crop_rect(rng, *geometry[photo]), mode, rng])

    def run(job):
        out, photo, (w, h, x, y), mode, _ = job
        subprocess.run(
            [args.jpegtran, "-copy", "all", mode, "-crop", f"{w}x{h}+{x}+{y}",
             "-outfile", out, photo],
            check=True,
        )
        with open(out, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    seen = {}
    todo = jobs
    with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for _ in range(10):
            digests = list(pool.map(run, todo))
            again = []
            for job, digest in zip(todo, digests):
                if digest in seen and seen[digest] != job[0]:
                    # Same bytes as another file: draw another rectangle from the set's generator.
                    job[2] = crop_rect(job[4], *geometry[job[1]])
                    again.append(job)
                else:
                    seen[digest] = job[0]
            todo = again
            if not todo:
                break
    if todo:
        sys.exit("originals.py crops: could not make distinct files")
    total_mp = sum(j[2][0] * j[2][1] for j in jobs) / 1e6
    sizes = [os.path.getsize(j[0]) for j in jobs]
    print(
        f"{len(jobs)} originals, {total_mp / len(jobs):.1f} MP and "
        f"{sum(sizes) / len(sizes) / 1e6:.2f} MB each on average, "
        f"{min(j[2][0] * j[2][1] for j in jobs) / 1e6:.1f}-"
        f"{max(j[2][0] * j[2][1] for j in jobs) / 1e6:.1f} MP"
    )


# --- drive ---------------------------------------------------------------------------------------


class Client:
    """One keep-alive connection per thread; reconnects after any failure."""

    def __init__(self, base, timeout):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port or 80
        self.timeout = timeout
        self.local = threading.local()

    def request(self, method, path, body=None, headers=None):
        """(status, body bytes); raises on connection errors and timeouts."""
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = conn
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            if resp.getheader("connection", "").lower() == "close":
                conn.close()
                self.local.conn = None
            return resp.status, data
        except Exception:
            conn.close()
            self.local.conn = None
            raise


def drive(args):
    token = os.environ.get("UPLOAD_TOKEN", "")
    if args.server == "origami" and not token:
        sys.exit("originals.py drive: set UPLOAD_TOKEN for origami")
    sizes = SRCSET if args.workload == "burst" else FIRST_TOUCH
    client = Client(args.base, args.timeout)
    failures = []  # messages
    lock = threading.Lock()
    counters = {"http": 0, "bytes": 0}
    # The derivative GETs of one original run on their own pool, so an original's requests
    # are in flight together while C originals are.
    gets = cf.ThreadPoolExecutor(max_workers=args.conc * len(sizes))

    def fail(msg):
        with lock:
            failures.append(msg)

    def get(path):
        try:
            status, data = client.request("GET", path)
        except Exception as e:  # noqa: BLE001 (counted, reported)
            fail(f"GET {path}: {type(e).__name__}: {e}")
            return False
        with lock:
            counters["http"] += 1
            counters["bytes"] += len(data)
        if status != 200 or data[:2] != b"\xff\xd8":
            fail(f"GET {path}: {status} {data[:120]!r}")
            return False
        return True

    def one(path):
        """Returns the latency in seconds, or None when a request failed."""
        start = time.perf_counter()
        if args.server == "origami":
            with open(path, "rb") as f:
                body = f.read()
            start = time.perf_counter()
            try:
                status, data = client.request(
                    "POST",
                    "/originals",
                    body=body,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "image/jpeg",
                    },
                )
            except Exception as e:  # noqa: BLE001
                fail(f"POST {os.path.basename(path)}: {type(e).__name__}: {e}")
                return None
            with lock:
                counters["http"] += 1
            if status != 201:
                fail(f"POST {os.path.basename(path)}: {status} {data[:200]!r}")
                return None
            ident = json.loads(data)["hash"]
        else:
            ident = os.path.splitext(os.path.basename(path))[0]
        paths = [f"/thumb/{w}/{h}/{ident}.jpg" for w, h in sizes]
        if len(paths) == 1:
            ok = get(paths[0])
        else:
            ok = all(list(gets.map(get, paths)))
        return time.perf_counter() - start if ok else None

    wall0 = time.perf_counter()
    with cf.ThreadPoolExecutor(max_workers=args.conc) as pool:
        results = list(pool.map(one, args.files))
    wall = time.perf_counter() - wall0
    gets.shutdown()
    lat = sorted(r for r in results if r is not None)

    def pct(p):
        if not lat:
            return 0
        return lat[max(0, min(len(lat) - 1, -(-p * len(lat) // 100) - 1))]

    for msg in failures[:5]:
        print(f"{args.server} {args.workload}: {msg}", file=sys.stderr)
    if len(failures) > 5:
        print(f"{args.server} {args.workload}: ... {len(failures)} failures", file=sys.stderr)
    print(
        f"RESULT requests={len(args.files)} duration_us={int(wall * 1e6)} "
        f"p50_us={int(pct(50) * 1e6)} p99_us={int(pct(99) * 1e6)} errors={len(failures)} "
        f"http_requests={counters['http']} bytes={counters['bytes']}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("crops", help="make the new originals")
    c.add_argument("jpegtran")
    c.add_argument("out")
    c.add_argument("sets", nargs="+", metavar="SET:N")
    c.add_argument("--jobs", type=int, default=2)
    c.add_argument("--photos", nargs="+", required=True)
    d = sub.add_parser("drive", help="run one workload against one server")
    d.add_argument("--server", choices=["origami", "sharp"], required=True)
    d.add_argument("--workload", choices=["first-touch", "burst"], required=True)
    d.add_argument("--conc", type=int, default=8)
    d.add_argument("--timeout", type=float, default=120.0)
    d.add_argument("base")
    d.add_argument("files", nargs="+")
    args = parser.parse_args()
    if args.cmd == "crops":
        make_crops(args)
    else:
        drive(args)


if __name__ == "__main__":
    main()
