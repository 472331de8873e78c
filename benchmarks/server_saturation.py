"""Does each server-backed job keep a model server busy? Saturation of a simulated continuous-batching server.

The server is a TEST DOUBLE for a remote model server (vLLM, SGLang, TGI: a true external boundary of babelvl):
the loopback OpenAI-compatible ``FakeVLMServer`` with ``slots`` batch slots (requests beyond them queue, as with
vLLM's ``--max-num-seqs``) and a lognormal service time per request (median ``--median`` s, shape ``--sigma``),
answering with the demo responder. Its capacity is ``slots / mean service time`` requests per second (128 slots,
median 1 s, sigma 0.5: 113 req/s). It runs in its own process, and each job runs as a user runs it, through the
``babelvl`` command line in another process, with ``--concurrency`` (default 128).

For each job (``translate``, ``build-pixmo --recipe cap``, ``eval``) the script prints, over the steady state
(from the first to the last moment every slot is busy): mean busy slots / slots, and achieved requests per second
/ capacity; and the busy share up to the last request's arrival (which also counts the drain before a final
retry pass). Issue #10's goal: >= 0.90 busy for each job. The client's CPU cost per request is printed too: on a
machine whose cores are busy with other work, a job that cannot process answers as fast as the server returns
them falls below the goal for that reason.

    python benchmarks/server_saturation.py [--slots 128] [--median 1.0] [--sigma 0.5] [--concurrency 128]
                                           [--requests 3000] [--jobs translate,build-pixmo,eval]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from babelvl.testing.resume import JOBS, write_job_inputs


def serve(conn: Any, slots: int, median: float, sigma: float, seed: int) -> None:
    """The simulated server's process: serve until told to stop, then send back its in-flight log."""
    from babelvl.testing.demo_responder import demo_answer
    from babelvl.testing.openai_server import FakeVLMServer

    rng, lock = random.Random(seed), threading.Lock()

    def service_time(_: str) -> float:
        with lock:
            return rng.lognormvariate(math.log(median), sigma)

    with FakeVLMServer(demo_answer, delay=service_time, slots=slots) as server:
        conn.send(server.base_url)
        conn.recv()  # "stop"
        conn.send((list(server.in_flight_log), server.request_count))


def write_inputs(folder: Path, n: int) -> dict[str, Path]:
    """n requests per job: n/2 texts into two languages, n PixMo-Cap rows, n POPE items."""
    return write_job_inputs(folder, n, text_rows=n // 2)

def command(job: str, data: Path, out: Path, base_url: str, concurrency: int) -> list[str]:
    server = ["--api-base", base_url, "--concurrency", str(concurrency)]
    if job == "translate":
        return ["translate", "--data", str(data), "--fields", "question", "--languages", "fr,de",
                "--engine", "openai:demo", "--out", str(out), *server]
    if job == "build-pixmo":
        return ["build-pixmo", "--recipe", "cap", "--data", str(data), "--languages", "fr",
                "--generator", "openai:demo", "--out", str(out), *server]
    return ["eval", "--model", "openai:demo", "--data", f"pope={data}", "--benchmarks", "pope",
            "--languages", "en", "--out", str(out), *server]


def saturation(log: list[tuple[float, int]], slots: int, capacity: float) -> dict[str, float]:
    """Steady state: from the first to the last moment every slot is busy (or the peak, if never all busy).

    Ramp-up and the final drain are left out; a barrier anywhere between (a batch that drains before the next
    one starts, a pass that waits for the previous one) is inside and lowers the figure. ``busy_to_end`` is the
    same mean up to the last request's arrival, so it also counts a drain before a final small pass.
    """
    from babelvl.testing.openai_server import in_flight_between

    peak = min(slots, max(level for _, level in log))
    full = [t for t, level in log if level >= peak]
    start, end = full[0], full[-1]
    arrivals = [t for (t, level), (_, before) in zip(log[1:], log) if level > before]
    mean, _ = in_flight_between(log, start, end)
    to_end, _ = in_flight_between(log, start, max(arrivals[-1], end))
    # requests that finished in the window: a departure is a drop in the level
    done = sum(1 for (t, level), (_, before) in zip(log[1:], log) if level < before and start <= t <= end)
    return {"steady_s": end - start, "busy": mean / slots, "busy_to_end": to_end / slots,
            "rate": done / (end - start), "rate_share": done / (end - start) / capacity}


def run_job(job: str, data: Path, work: Path, args: argparse.Namespace, capacity: float) -> dict[str, Any]:
    parent, child = mp.Pipe()
    server = mp.get_context("spawn").Process(target=serve, args=(child, args.slots, args.median, args.sigma, 0))
    server.start()
    base_url = parent.recv()
    out = work / f"out-{job}"
    started = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([sys.executable, "-m", "babelvl.cli", *command(job, data, out, base_url,
                                                                           args.concurrency), "--quiet"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    parent.send("stop")
    log, requests = parent.recv()
    server.join(timeout=30)
    if result.returncode != 0:
        raise SystemExit(f"{job} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return {"job": job, "requests": requests, "seconds": seconds, "cpu_ms": 1000 * cpu / max(1, requests),
            **saturation(log, args.slots, capacity)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=128, help="batch slots of the simulated server")
    parser.add_argument("--median", type=float, default=1.0, help="median service time, seconds")
    parser.add_argument("--sigma", type=float, default=0.5, help="lognormal shape of the service time")
    parser.add_argument("--concurrency", type=int, default=128, help="the jobs' --concurrency")
    parser.add_argument("--requests", type=int, default=3000, help="about this many requests per job")
    parser.add_argument("--jobs", default=",".join(JOBS))
    parser.add_argument("--goal", type=float, default=0.90, help="exit 1 if a job's busy share is below it")
    args = parser.parse_args(argv)
    mean_service = args.median * math.exp(args.sigma ** 2 / 2)
    capacity = args.slots / mean_service
    print(f"simulated server (test double for vLLM): {args.slots} slots, lognormal service time median "
          f"{args.median} s, sigma {args.sigma} (mean {mean_service:.3f} s): capacity {capacity:.1f} req/s; "
          f"jobs with --concurrency {args.concurrency}, ~{args.requests} requests each; {os.cpu_count()} CPUs")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = write_inputs(Path(tmp) / "data", args.requests)
        for job in args.jobs.split(","):
            rows.append(run_job(job, inputs[job], Path(tmp), args, capacity))
            r = rows[-1]
            print(f"  {job}: {r['requests']} requests in {r['seconds']:.1f} s", flush=True)
    print()
    print("| job | requests | steady state (s) | busy slots / slots | achieved req/s | req/s / capacity "
          "| busy, up to the last arrival | job CPU ms / request |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['job']} | {r['requests']} | {r['steady_s']:.1f} | {r['busy']:.1%} | {r['rate']:.1f} | "
              f"{r['rate_share']:.1%} | {r['busy_to_end']:.1%} | {r['cpu_ms']:.1f} |")
    return 0 if all(r["busy"] >= args.goal for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
