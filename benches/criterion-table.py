#!/usr/bin/env python3
"""Print criterion's results for the engine bench as a Markdown table: images/s and MP/s.

Usage: python3 benches/criterion-table.py [target/criterion]
(after `cargo bench -p origami-benches --bench engine`)
"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
rows = []
for estimates in sorted(root.glob("**/new/estimates.json")):
    bench = json.loads((estimates.parent / "benchmark.json").read_text())
    mean_s = json.loads(estimates.read_text())["mean"]["point_estimate"] / 1e9
    pixels = (bench.get("throughput") or {}).get("Elements")
    rows.append((bench["group_id"], bench.get("value_str") or bench.get("function_id") or "",
                 mean_s, pixels))

print("| group | case | ms/image | images/s | source MP/s |")
print("|---|---|---|---|---|")
for group, case, mean_s, pixels in rows:
    mps = f"{pixels / mean_s / 1e6:.0f}" if pixels else ""
    print(f"| {group} | {case} | {mean_s * 1e3:.2f} | {1 / mean_s:.1f} | {mps} |")
