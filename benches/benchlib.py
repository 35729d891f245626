"""Helpers shared by the Python drivers of the load scripts (abuse.py, fleet.py, chaos.py)."""
import http.client
import time
import urllib.parse


def get(base, path, timeout=60):
    """GET `path` from `base` (`http://host:port`) on a new connection: (status, body, seconds).
    A connection failure or a timeout is status 0 with an empty body."""
    url = urllib.parse.urlsplit(base)
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, body, time.monotonic() - started
    except (OSError, http.client.HTTPException):
        return 0, b"", time.monotonic() - started


def percentile(values, p):
    """The p-th percentile of `values` by nearest rank (NaN for none)."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values))) - 1))]


def append_rows(tsv, rows):
    """Appends `rows` (tuples) to the TSV file `tsv`, each after the current time."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(tsv, "a") as out:
        for row in rows:
            out.write("\t".join([stamp, *map(str, row)]) + "\n")
