#!/usr/bin/env python3
"""Uploads every file of an image corpus to a fresh `origami serve` and counts the answers:
what is accepted (201/200), what is refused as unsupported (415, by file extension) and what
as damaged or too large (422/413). The default corpus is Pillow's test images, from its source
distribution on PyPI (`pip download pillow --no-binary :all:`), which covers far more formats
and odd files than the fixtures.

  python3 benches/input_corpus.py [--origami target/release/origami] [--corpus DIR]
                                  [--label NAME]

Run it with two binaries (before and after a change) to compare. Prints a markdown summary;
stdout only, nothing kept.
"""
import argparse
import collections
import http.client
import os
import pathlib
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def pillow_corpus():
    """Pillow's Tests/images, downloaded once into target/pillow."""
    cache = ROOT / "target" / "pillow"
    found = sorted(cache.glob("pillow-*/Tests/images"))
    if found:
        return found[-1]
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "pillow", "--no-binary", ":all:",
         "--no-deps", "-q", "-d", str(cache)],
        check=True,
    )
    sdist = sorted(cache.glob("pillow-*.tar.gz"))[-1]
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/Tests/images/" in m.name]
        tar.extractall(cache, members=members, filter="data")
    return sorted(cache.glob("pillow-*/Tests/images"))[-1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, data):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/originals", body=data,
                     headers={"Authorization": "Bearer corpus"})
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--origami", default=str(ROOT / "target/release/origami"))
    parser.add_argument("--corpus", type=pathlib.Path)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    corpus = args.corpus or pillow_corpus()
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, ORIGAMI_STORE__LOCAL_DIR=data,
                   ORIGAMI_SECURITY__UPLOAD_TOKEN="corpus", RUST_LOG="error")
        server = subprocess.Popen([args.origami, "serve", "--listen", f"127.0.0.1:{port}"],
                                  env=env, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            statuses = collections.Counter()
            unsupported = collections.Counter()
            refused = collections.Counter()
            started = time.monotonic()
            for path in files:
                status = post(port, path.read_bytes())
                statuses[status] += 1
                ext = path.suffix.lower() or "(none)"
                if status == 415:
                    unsupported[ext] += 1
                elif status not in (200, 201):
                    refused[(status, ext)] += 1
            took = time.monotonic() - started
        finally:
            server.terminate()
            server.wait()
    accepted = statuses[200] + statuses[201]
    print(f"## {args.label or args.origami}: {len(files)} files of {corpus} in {took:.1f} s\n")
    print(f"accepted {accepted}, 415 unsupported {statuses[415]}, "
          f"other refusals {sum(refused.values())} "
          f"({', '.join(f'{s}: {n}' for s, n in sorted(statuses.items()) if s not in (200, 201, 415))})\n")
    print("| 415 by extension | files |\n|---|---|")
    for ext, n in unsupported.most_common():
        print(f"| {ext} | {n} |")
    print("\n| other refusals (status, extension) | files |\n|---|---|")
    for (status, ext), n in refused.most_common():
        print(f"| {status} {ext} | {n} |")


if __name__ == "__main__":
    main()
