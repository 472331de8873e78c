"""Annotators' page time while strangers flood the login form (python benchmarks/app_login_flood.py).

The app runs as its own process (``python -m babelvl.quality.app``) on loopback. One annotator
loads item pages in a loop for ``--seconds``, three times: with no flood, while 16 threads post
wrong passwords from one address (throttled: answered 429 before any password check), and while 16
threads post wrong passwords for random names from random addresses (``X-Forwarded-For``, which
uvicorn trusts from 127.0.0.1: a distributed flood; every attempt is a real scrypt check, at most
half the cores at once). The flood runs in a process of its own; phases alternate twice. Prints p50/p95
page times, the flood's status counts, and the ratio to the quiet phases of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from babelvl.quality.app import create_admin, create_project, create_user, import_plan

PASSWORD = "correct-horse"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _token(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]*)"', text)
    assert match, "no csrf token"
    return match.group(1)


def _setup(folder: Path) -> Path:
    db = folder / "app.sqlite"
    create_admin(db, "admin", PASSWORD)
    create_user(db, "alice", PASSWORD)
    create_project(db, "lik", "likert")
    items = [{"item_id": f"mme:de:{i}:question", "language": "de", "group": "mme", "field": "question",
              "source_text": f"What colour is the car {i}?", "target_text": f"Welche Farbe hat das Auto {i}?",
              "image_path": None, "annotators": ["alice"]} for i in range(20)]
    (folder / "plan.jsonl").write_text("".join(json.dumps(it) + "\n" for it in items))
    import_plan(db, "lik", folder / "plan.jsonl")
    return db


def _annotator(base: str, seconds: float) -> list[float]:
    times = []
    with httpx.Client(base_url=base, timeout=30, headers={"X-Forwarded-For": "192.0.2.1"}) as client:
        page = client.get("/login")
        client.post("/login", data={"csrf_token": _token(page.text), "name": "alice", "password": PASSWORD})
        deadline = time.monotonic() + seconds
        index = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = client.get(f"/projects/lik/items/mme%3Ade%3A{index % 20}%3Aquestion")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
            index += 1
    return times


def _flood(base: str, stop: threading.Event, counts: Counter, distributed: bool, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            headers = {"X-Forwarded-For": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"} \
                if distributed else {}
            name = f"user{rng.randrange(10**6)}" if distributed else "alice"
            page = client.get("/login", headers=headers)
            response = client.post("/login", headers=headers, data={"csrf_token": _token(page.text), "name": name,
                                                                    "password": "wrong-password-1"})
            counts[response.status_code] += 1


def _flood_process(base: str, distributed: bool, stop, queue) -> None:
    """16 flooding threads in a process of their own, so they do not share the measuring client's GIL."""
    halt, counts = threading.Event(), Counter()
    threads = [threading.Thread(target=_flood, args=(base, halt, counts, distributed, i), daemon=True)
               for i in range(16)]
    for thread in threads:
        thread.start()
    stop.wait()
    halt.set()
    for thread in threads:
        thread.join(60)
    queue.put(dict(counts))


def _run(base: str, seconds: float, flood: str | None) -> tuple[list[float], Counter]:
    import multiprocessing

    if flood is None:
        return _annotator(base, seconds), Counter()
    stop, queue = multiprocessing.Event(), multiprocessing.Queue()
    worker = multiprocessing.Process(target=_flood_process, args=(base, flood == "distributed", stop, queue))
    worker.start()
    time.sleep(1.0)  # let the flood reach full speed
    try:
        times = _annotator(base, seconds)
    finally:
        stop.set()
        counts = Counter(queue.get(timeout=120))
        worker.join(60)
    return times, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = _setup(Path(folder))
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "babelvl.quality.app", "--db", str(db), "--port", str(port)],
                                  env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(base + "/login", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            measured: dict[str, tuple[list[float], Counter]] = {}
            for _ in range(2):  # phases alternate, so a change in the machine's load hits them alike
                for flood in (None, "one-address", "distributed"):
                    times, counts = _run(base, args.seconds / 2, flood)
                    so_far = measured.setdefault(flood or "quiet", ([], Counter()))
                    so_far[0].extend(times)
                    so_far[1].update(counts)
            results = {phase: (statistics.median(times), statistics.quantiles(times, n=20)[18], len(times),
                               dict(counts)) for phase, (times, counts) in measured.items()}
        finally:
            server.terminate()
            server.wait(10)
    quiet = results["quiet"][0]
    print(f"{'phase':<12} {'p50 ms':>8} {'p95 ms':>8} {'pages':>6} {'p50 / quiet':>11}  flood responses")
    for phase, (p50, p95, pages, counts) in results.items():
        print(f"{phase:<12} {p50 * 1000:8.1f} {p95 * 1000:8.1f} {pages:6d} {p50 / quiet:11.1f}  {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
