#!/usr/bin/env python3
"""Drive benches/fleet.sh: one workload through the balancer, then the fleet's own counters.

Workload: every photo at SIZES thumbnail sizes (cold: each URL new to the fleet), each URL asked
REPEAT times in a shuffled order (fixed seed: both balancer modes get the same sequence), CONC
requests in flight. Then each replica's /metrics is read: the result-cache outcomes (hit, miss =
a transform, coalesced, derived = read back from the store's derived space) and the working
copies made from originals, summed over the fleet.

Usage: benches/fleet.py BALANCER_URL MODE REPLICA_URL... --photos HASH... (fleet.sh runs it).
Prints one table row (Markdown); with --tsv FILE, appends it there too.
"""
import argparse
import concurrent.futures
import random
import re
import time

from benchlib import get, percentile


def scrape(replica):
    """Sums of the counters of one replica's /metrics, by (name, label value)."""
    status, body, _ = get(replica, "/metrics")
    if status != 200:
        raise SystemExit(f"{replica}/metrics answered {status}")
    sums = {}
    pattern = re.compile(r'^(origami_cache_total|origami_working_copies_total)\{[^}]*'
                         r'(?:outcome|source)="([a-z_]+)"[^}]*\}\s+([0-9.e+]+)$')
    for line in body.decode().splitlines():
        m = pattern.match(line)
        if m:
            key = (m.group(1), m.group(2))
            sums[key] = sums.get(key, 0.0) + float(m.group(3))
    return sums


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("balancer")
    parser.add_argument("mode")
    parser.add_argument("replicas", nargs="+")
    parser.add_argument("--photos", nargs="+", required=True)
    parser.add_argument("--sizes", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--conc", type=int, default=8)
    parser.add_argument("--tsv")
    args = parser.parse_args()

    urls = [f"/thumb/{320 + 8 * i}/{240 + 6 * i}/{photo}.jpg"
            for photo in args.photos for i in range(args.sizes)]
    sequence = [u for u in urls for _ in range(args.repeat)]
    random.Random(15).shuffle(sequence)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.conc) as pool:
        results = list(pool.map(lambda path: get(args.balancer, path), sequence))
    wall = time.monotonic() - started
    errors = sum(1 for status, _, _ in results if status != 200)
    p99 = percentile([seconds for _, _, seconds in results], 99) * 1000

    totals = {}
    per_replica_misses = []
    for replica in args.replicas:
        sums = scrape(replica)
        per_replica_misses.append(int(sums.get(("origami_cache_total", "miss"), 0)))
        for key, value in sums.items():
            totals[key] = totals.get(key, 0.0) + value
    outcome = lambda name: int(totals.get(("origami_cache_total", name), 0))
    hits, misses = outcome("hit"), outcome("miss")
    coalesced, derived = outcome("coalesced"), outcome("derived")
    lookups = hits + misses + coalesced + derived
    copies = int(totals.get(("origami_working_copies_total", "made"), 0))
    hit_ratio = 100.0 * hits / lookups if lookups else 0.0
    row = (f"| {args.mode} | {len(sequence)} ({len(urls)} URLs) | {misses} "
           f"({'/'.join(map(str, per_replica_misses))}) | {derived} | {coalesced} | {copies} | "
           f"{hit_ratio:.1f} % | {len(sequence) / wall:.1f} | {p99:.0f} | {errors} |")
    print(row, flush=True)
    if args.tsv:
        with open(args.tsv, "a") as out:
            out.write("\t".join(map(str, [
                time.strftime("%Y-%m-%dT%H:%M:%S"), args.mode, len(sequence), len(urls), misses,
                derived, coalesced, copies, f"{hit_ratio:.1f}", f"{len(sequence) / wall:.1f}",
                f"{p99:.1f}", errors])) + "\n")


if __name__ == "__main__":
    main()
