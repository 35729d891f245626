#!/usr/bin/env python3
"""Drive benches/abuse.sh: ordinary cold traffic alone, then next to floods of costly URLs.

Ordinary traffic: ORD_CONC clients, each asking for thumbnails around 400x300 (JPEG) of the known
photos, every URL new (so neither the result cache nor coalescing answers: each one is engine
work). A phase lasts DURATION seconds; its ordinary requests are counted by outcome (200 or not)
and their latency summarised (p50, p99 by nearest rank, over all requests; a failure counts
with its time).

Phases:
Each flood client sends its next URL FLOOD_PAUSE seconds (0.1) after the previous answer, so the
flood tests what requests cost, not sheer volume (a volume flood is for the CDN or a WAF to rate
limit); the flood runs in a process of its own and starts FLOOD_LEAD seconds (3) before the
ordinary traffic is measured.

  none          ordinary traffic alone (the reference p99);
  pathological  plus FLOOD_CONC clients asking, over and over, for lossless 39xx-40xx px WebPs
                of a small original (issue 16's flood: each buys ~12 s of CPU when served);
  expensive     plus FLOOD_CONC clients asking for derivatives that are costly but allowed
                (lossless WebP and AVIF of a 6 MP photo at 1600-2200 px, 1-3 s of CPU each).

Usage: benches/abuse.py BASE_URL SMALL_HASH PHOTO_HASH... (benches/abuse.sh runs it).
Prints one table row per phase; with --tsv FILE, appends the rows there too.
"""
import argparse
import itertools
import multiprocessing
import threading
import time

from benchlib import append_rows, get, percentile


# Forked, not spawned: the flood's URL makers are closures over the command line.
FORK = multiprocessing.get_context("fork")


class Counter:
    """A shared sequence of unique numbers, so no two requests ask for the same URL."""

    def __init__(self, start=0):
        self._it = itertools.count(start)
        self._lock = threading.Lock()

    def next(self):
        with self._lock:
            return next(self._it)


def request(base, path, timeout):
    """GET path; (status, seconds). A connection failure or timeout is status 0."""
    status, _, seconds = get(base, path, timeout)
    return status, seconds


def client(base, next_path, stop, timeout, results, pause=0.0):
    while not stop.is_set():
        results.append(request(base, next_path(), timeout))
        if pause:
            stop.wait(pause)


def flood_process(base, next_path, args, started, done, out):
    """The flood's clients, in a process of their own so that they do not hold the ordinary
    clients' interpreter lock (which would add to the latencies measured)."""
    stop = threading.Event()
    results = []
    threads = [
        threading.Thread(target=client,
                         args=(base, next_path, stop, args.timeout, results, args.flood_pause))
        for _ in range(args.flood_conc)
    ]
    for t in threads:
        t.start()
    started.set()
    done.wait()
    stop.set()
    for t in threads:
        t.join()
    out.put([st for st, _ in results])


def phase(name, base, args, ordinary_path, flood_path):
    stop = threading.Event()
    ordinary, flood = [], []
    flooding = None
    if flood_path is not None:
        started, done, out = (FORK.Event(), FORK.Event(), FORK.Queue())
        flooding = FORK.Process(
            target=flood_process, args=(base, flood_path, args, started, done, out))
        flooding.start()
        started.wait()
        # Let the flood fill the server's queues before ordinary traffic is measured.
        time.sleep(args.flood_lead)
    threads = [
        threading.Thread(target=client, args=(base, ordinary_path, stop, args.timeout, ordinary))
        for _ in range(args.ord_conc)
    ]
    for t in threads:
        t.start()
    time.sleep(args.duration)
    stop.set()
    for t in threads:
        t.join()
    if flooding is not None:
        done.set()
        flood = out.get()
        flooding.join()
    ok = sorted(s for st, s in ordinary if st == 200)
    latencies = sorted(s for _, s in ordinary)
    statuses = {}
    for st in flood:
        statuses[st] = statuses.get(st, 0) + 1
    return {
        "phase": name,
        "ordinary": len(ordinary),
        "ok": len(ok),
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "flood": len(flood),
        "flood_statuses": " ".join(f"{k}:{v}" for k, v in sorted(statuses.items())) or "-",
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("small")
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--ord-conc", type=int, default=2)
    parser.add_argument("--flood-conc", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--flood-pause", type=float, default=0.1)
    parser.add_argument("--flood-lead", type=float, default=3)
    parser.add_argument("--phases", default="none pathological expensive")
    parser.add_argument("--tsv")
    args = parser.parse_args()

    sizes = Counter()

    def ordinary_path():
        i = sizes.next()
        photo = args.photos[i % len(args.photos)]
        return f"/thumb/{300 + i % 400}/{250 + i // 400}/{photo}.jpg"

    pathological_n = Counter()

    def pathological_path():
        i = pathological_n.next()
        side = 3900 + i % 196
        return f"/thumb/{side}/{side - 1}/q/100/{args.small}.webp"

    expensive_n = Counter()

    def expensive_path():
        i = expensive_n.next()
        side = 1600 + i % 600
        photo = args.photos[i % len(args.photos)]
        if i % 2:
            return f"/fit/{side}/{side}/q/100/{photo}.webp"
        return f"/fit/{side}/{side}/{photo}.avif"

    # Every photo's working copy is made before anything is measured, so no phase pays for
    # first touches that another phase does not.
    for photo in args.photos:
        status, _ = request(args.base, f"/thumb/64/64/{photo}.jpg", args.timeout)
        if status != 200:
            raise SystemExit(f"warm-up of {photo} answered {status}")

    floods = {"none": None, "pathological": pathological_path, "expensive": expensive_path}
    rows = []
    print(f"| phase | ordinary requests | ordinary 200 | p50 ms | p99 ms | p99 / no-flood p99 "
          f"| flood requests (status:count) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    reference = None
    for name in args.phases.split():
        row = phase(name, args.base, args, ordinary_path, floods[name])
        if name == "none":
            reference = row["p99"]
        ratio = f"{row['p99'] / reference:.2f}x" if reference else "-"
        success = 100.0 * row["ok"] / row["ordinary"] if row["ordinary"] else 0.0
        print(f"| {name} | {row['ordinary']} | {success:.1f} % | {row['p50']:.0f} | "
              f"{row['p99']:.0f} | {ratio} | {row['flood']} ({row['flood_statuses']}) |",
              flush=True)
        rows.append((name, row["ordinary"], row["ok"], f"{row['p50']:.1f}", f"{row['p99']:.1f}",
                     ratio, row["flood"], row["flood_statuses"]))
    if args.tsv:
        append_rows(args.tsv, rows)


if __name__ == "__main__":
    main()
