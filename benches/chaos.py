#!/usr/bin/env python3
"""Drive benches/chaos.sh: a steady load on `origami serve` over two S3 regions while one region
is, phase by phase, stopped, slowed, made to fail a share of requests, and given a corrupt copy.

The regions are the tests' S3 servers (s3s) run by the `chaos_regions` example of origami-store,
whose faults are commands on its stdin: a stopped region's port really closes, a slow one
really waits before answering, a failing one really answers 500. The corrupt copy is a stored
original's file with one byte flipped on disk, behind the server's back.

Load: CONC clients in a loop, in turn asking for an original (`/original/<hash>`: with a small
result cache, every such request reads a region), a new thumbnail size (a transform from the
working copy, plus a derived-space read and write in both regions), and one of a few hot
thumbnails (cache hits). Every original is in both regions, so the target is 0 failed requests
in every phase.

A phase lasts DURATION seconds of fault, then the fault is lifted and the phase goes on until
every breaker closed again (so each phase starts from a healthy fleet). Per phase: requests,
failed requests, p50 and p99 (and p99 against the healthy phase), the breaker transitions
`/readyz` showed (sampled every 0.25 s, as seconds from the phase's start), and the integrity
failures counted in /metrics. After the corrupt phase, whether the copy on disk was repaired.

Usage: benches/chaos.py --origami BIN --regions BIN --photos DIR (chaos.sh runs it).
"""
import argparse
import glob
import itertools
import json
import os
import re
import subprocess
import tempfile
import threading
import time

import benchlib
from benchlib import percentile

ACCESS_KEY = "origami-test-key"
SECRET_KEY = "origami-test-secret-0123456789"


def get(port, path, timeout=30):
    return benchlib.get(f"http://127.0.0.1:{port}", path, timeout)


class Regions:
    """The chaos_regions process: its regions and its command line."""

    def __init__(self, binary):
        self.proc = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.regions = {}
        for line in self.proc.stdout:
            words = line.split()
            if words[:1] == ["region"]:
                self.regions[words[1]] = {"endpoint": words[2], "root": words[3]}
            elif words == ["ready"]:
                break
        if set(self.regions) != {"east", "west"}:
            raise SystemExit(f"chaos_regions printed {self.regions}")

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise SystemExit(f"chaos_regions: {line}: {answer}")

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        except OSError:
            pass
        self.proc.wait(timeout=10)


def integrity_failures(port):
    status, body, _ = get(port, "/metrics")
    total = 0.0
    for line in body.decode(errors="replace").splitlines():
        m = re.match(r'^origami_integrity_failures_total\{[^}]*\}\s+([0-9.e+]+)$', line)
        if m:
            total += float(m.group(1))
    return int(total)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--origami", required=True)
    parser.add_argument("--regions", required=True)
    parser.add_argument("--photos", required=True)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--conc", type=int, default=8)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--cache-bytes", type=int, default=8 << 20)
    parser.add_argument("--tsv")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="origami-chaos-")
    regions = Regions(args.regions)
    config = os.path.join(work, "origami.toml")
    with open(config, "w") as out:
        for name, region in regions.regions.items():
            out.write(f'[[store.s3]]\nname = "{name}"\nbucket = "origami"\n'
                      f'region = "us-east-1"\nendpoint = "{region["endpoint"]}"\n\n')
        out.write(f"[cache]\nmemory_bytes = {args.cache_bytes}\n")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
               RUST_LOG="warn")
    photos = sorted(glob.glob(os.path.join(args.photos, "*.jpg")))
    put = subprocess.run([args.origami, "--config", config, "put", *photos], env=env,
                         capture_output=True, text=True, check=True)
    hashes = {}
    for line in put.stdout.splitlines():
        digest, path = line.split(maxsplit=1)
        hashes[digest] = path.strip()
    keys = sorted(hashes)
    server = subprocess.Popen([args.origami, "--config", config, "serve", "--listen",
                               f"127.0.0.1:{args.port}"], env=env,
                              stderr=open(os.path.join(work, "origami.log"), "w"))
    try:
        for _ in range(200):
            if get(args.port, "/readyz")[0] == 200:
                break
            time.sleep(0.1)
        else:
            raise SystemExit("origami never became ready")
        for h in keys:  # working copies, before anything is measured
            get(args.port, f"/thumb/320/240/{h}.webp")
        run(args, regions, keys, hashes)
    finally:
        server.terminate()
        server.wait(timeout=60)
        regions.close()


def run(args, regions, keys, hashes):
    phase = {"name": "healthy", "start": time.monotonic()}
    records = []  # (phase, status, seconds)
    events = []  # (phase, seconds into it, region, up)
    stop = threading.Event()
    sizes = itertools.count()
    lock = threading.Lock()

    def client(k):
        for i in itertools.count(k):
            if stop.is_set():
                return
            h = keys[i % len(keys)]
            kind = i % 3
            if kind == 0:
                path = f"/original/{h}"
            elif kind == 1:
                with lock:
                    n = next(sizes)
                path = f"/thumb/{200 + n % 600}/{150 + n // 600}/{h}.jpg"
            else:
                path = f"/thumb/320/240/{h}.webp"
            name = phase["name"]
            status, _, seconds = get(args.port, path)
            with lock:
                records.append((name, status, seconds))

    def monitor():
        last = {}
        while not stop.is_set():
            status, body, _ = get(args.port, "/readyz", timeout=5)
            if status == 200:
                for region in json.loads(body)["regions"]:
                    up = region["up"]
                    if last.get(region["name"], True) != up:
                        events.append((phase["name"], time.monotonic() - phase["start"],
                                       region["name"], up))
                    last[region["name"]] = up
            time.sleep(0.25)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.conc)]
    threads.append(threading.Thread(target=monitor))
    for t in threads:
        t.start()

    victim = keys[0]
    victim_path = os.path.join(regions.regions["east"]["root"], "origami", "originals", victim)
    with open(hashes[victim], "rb") as f:
        victim_bytes = f.read()
    integrity = {}
    repaired = None

    def corrupt():
        with open(victim_path, "r+b") as f:
            first = f.read(1)
            f.seek(0)
            f.write(bytes([first[0] ^ 0xFF]))

    phases = [
        ("healthy", None, None),
        ("east stopped", lambda: regions.command("stop east"),
         lambda: regions.command("start east")),
        ("east slow (2 s per request)", lambda: regions.command("slow east 2000"),
         lambda: regions.command("heal east")),
        ("east fails 30 % (500)", lambda: regions.command("fail east 30"),
         lambda: regions.command("heal east")),
        ("one corrupt copy in east", corrupt, None),
        ("healthy again", None, None),
    ]
    for name, begin, end in phases:
        before = integrity_failures(args.port)
        phase["name"], phase["start"] = name, time.monotonic()
        if begin:
            begin()
        time.sleep(args.duration)
        if end:
            end()
        # The phase lasts until every breaker closed again, so that the next one starts from a
        # healthy fleet (and the close time shows among the phase's events).
        for _ in range(240):
            status, body, _ = get(args.port, "/readyz", timeout=5)
            if status == 200 and all(r["up"] for r in json.loads(body)["regions"]):
                break
            time.sleep(0.25)
        integrity[name] = integrity_failures(args.port) - before
        if name == "one corrupt copy in east":
            with open(victim_path, "rb") as f:
                repaired = f.read() == victim_bytes
    stop.set()
    for t in threads:
        t.join()

    healthy_p99 = percentile([s for p, st, s in records if p == "healthy"], 99)
    print("| phase | requests | failed | p50 ms | p99 ms | p99 / healthy | breaker events (s into the phase) | integrity failures |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for name, _, _ in phases:
        mine = [(st, s) for p, st, s in records if p == name]
        failed = sum(1 for st, _ in mine if st != 200)
        p50 = percentile([s for _, s in mine], 50) * 1000
        p99 = percentile([s for _, s in mine], 99) * 1000
        evs = ", ".join(f"{r} {'up' if up else 'down'} {t:.1f}" for p, t, r, up in events
                        if p == name) or "-"
        print(f"| {name} | {len(mine)} | {failed} | {p50:.0f} | {p99:.0f} | "
              f"{p99 / (healthy_p99 * 1000):.2f}x | {evs} | {integrity[name]} |", flush=True)
        rows.append((name, len(mine), failed, f"{p50:.1f}", f"{p99:.1f}", evs, integrity[name]))
    print(f"\ncorrupt copy of {victim[:12]}... in east repaired on disk by the end of its phase: "
          f"{'yes' if repaired else 'no'}")
    if args.tsv:
        benchlib.append_rows(args.tsv, rows)


if __name__ == "__main__":
    main()
