"""Image fetch throughput: one connection vs bounded parallelism, and a fully cached re-run.

Serves distinct PNGs from a loopback HTTP server that waits ``--delay`` seconds per response (a stand-in
for a remote host's latency), fetches them all with ``max_parallel`` 1 and 8 into fresh caches, then
re-runs over the warm cache, and prints images/s, HTTP requests and the ratios. With a 20 ms delay,
parallelism should give several times the throughput of one connection, and the cached re-run should
make zero requests.

    python benchmarks/image_fetch.py [--images 500] [--delay 0.02] [--parallel 1 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from babelvl.pixmo.fetch import ImageFetcher
from babelvl.testing.pixmo_fixtures import ImageServer, fixture_images


def run(server: ImageServer, urls: list[str], cache: Path, max_parallel: int) -> dict:
    server.reset_counts()
    start = time.perf_counter()
    with ImageFetcher(cache, max_parallel=max_parallel, retries=0, timeout=30) as fetcher:
        results = fetcher.fetch_many(urls)
        report = fetcher.report()
    seconds = time.perf_counter() - start
    if report.failed:
        raise SystemExit(f"{report.failed} fetches failed: {report.failed_by_reason}")
    return {"seconds": seconds, "per_s": len(results) / seconds, "http": server.total_requests,
            "max_active": server.max_active, "from_cache": report.from_cache}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.02, help="server latency per response (s)")
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()

    images = fixture_images(args.images)
    with ImageServer(images, delay=args.delay) as server, tempfile.TemporaryDirectory() as tmp:
        urls = [server.url(name) for name in images]
        rows = {}
        for parallel in args.parallel:
            rows[f"max_parallel={parallel}"] = run(server, urls, Path(tmp) / f"cache-{parallel}", parallel)
        last = args.parallel[-1]
        rows[f"cached re-run (max_parallel={last})"] = run(server, urls, Path(tmp) / f"cache-{last}", last)

    print(f"{args.images} images, {args.delay * 1000:.0f} ms server delay each")
    print(f"{'run':34} {'seconds':>8} {'images/s':>10} {'HTTP':>6} {'max concurrent':>15}")
    for name, row in rows.items():
        print(f"{name:34} {row['seconds']:8.2f} {row['per_s']:10.1f} {row['http']:6d} "
              f"{row['max_active']:15d}")
    base = rows[f"max_parallel={args.parallel[0]}"]["per_s"]
    for name, row in rows.items():
        if name != f"max_parallel={args.parallel[0]}":
            print(f"{name} vs max_parallel={args.parallel[0]}: {row['per_s'] / base:.1f}x")


if __name__ == "__main__":
    main()
