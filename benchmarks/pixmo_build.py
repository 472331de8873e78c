"""Multi-PixMo build throughput: rows/s and model calls per row per recipe, babelvl's own overhead, local vs
Ray, and memory against the number of rows.

The model is a loopback OpenAI-compatible server (``FakeVLMServer``, a stand-in for ``vllm serve``) that
takes ``--model-delay`` seconds per request, so "time in the model backend" is real waiting time.
Targets (issue #4): babelvl's overhead <= 5% of the time spent in the model backend; Ray with 2 workers
>= 1.7x one local worker on a CPU-bound step; memory bounded by the shard, not the dataset.

    python benchmarks/pixmo_build.py [--rows 800] [--model-delay 0.05]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from babelvl.pipeline import Pipeline, Step
from babelvl.pipeline.executors.local import LocalExecutor
from babelvl.pipeline.shards import make_shards
from babelvl.pixmo.build import BuildSpec, run_build
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.testing.pixmo_fixtures import ama_rows, cap_rows, write_ama, write_cap

BASE = "http://127.0.0.1:9/"
CAPTION = ("Une photo montre une forme géométrique simple posée sur un fond uni, au centre de l'image, avec des "
           "couleurs vives et des bords nets.")


def responder(prompt: str, images: list[bytes]) -> str:
    if "French:" in prompt:  # translation prompt (ama)
        return "Quelle forme voit-on sur cette image ?" if "What shape" in prompt.split("English:")[-1] else "Un carré."
    return CAPTION


def quiet() -> Console:
    return Console(file=open(os.devnull, "w"))


def backend_seconds(log: list[tuple[float, int]], start: float) -> float:
    """Wall time during which the model server had at least one request in flight (from its in-flight log):
    the requests stream through a window from several shard workers, so time is measured at the server."""
    busy, since = 0.0, None
    for t, level in log:
        if t < start:
            continue
        if level > 0 and since is None:
            since = t
        elif level == 0 and since is not None:
            busy, since = busy + t - since, None
    return busy


def distinct_ama_rows(rows: int) -> list[dict]:
    """AMA rows whose questions and answers are all different texts (no de-duplication to help)."""
    base = ama_rows(BASE, images=rows // 2, per_image=2)
    tag = lambda i: "".join(chr(97 + (i // 26 ** k) % 26) for k in range(3))  # noqa: E731
    return [{**r, "question": f"What shape is shown in picture {tag(i)}?", "answer": f"A square, variant {tag(i)}."}
            for i, r in enumerate(base)]


def recipe_run(tmp: Path, server: FakeVLMServer, recipe: str, rows: int, warm: bool = True) -> dict:
    if warm:  # pay imports, the language detector load and first-call costs outside the timed run
        recipe_run(tmp / "warm", server, recipe, 16, warm=False)
    if recipe == "cap":
        data = write_cap(tmp / f"{recipe}.parquet", BASE, cap_rows(BASE, rows))
        spec = BuildSpec(recipe="cap", languages=["fr"], out_dir=tmp / recipe, data=str(data), generator="openai:w",
                         options={"base_url": server.base_url}, shard_size=128)
    else:
        data = write_ama(tmp / f"{recipe}.parquet", BASE, distinct_ama_rows(rows))
        spec = BuildSpec(recipe="ama", languages=["fr"], out_dir=tmp / recipe, data=str(data), engine="llm:openai:w",
                         options={"base_url": server.base_url}, shard_size=128)
    before = server.request_count
    start, mono = time.perf_counter(), time.monotonic()
    result = run_build(spec, console=quiet())
    wall = time.perf_counter() - start
    return {"rows": result["rows"], "calls": server.request_count - before, "wall": wall,
            "backend": backend_seconds(list(server.in_flight_log), mono)}


def cpu_step() -> Step:
    def make():
        def fn(batch):
            out = []
            for r in batch:
                digest = r["text"].encode()
                for _ in range(300000):  # a CPU-bound step (~0.1 s a row)
                    digest = hashlib.sha256(digest).digest()
                out.append({**r, "digest": digest.hex()})
            return out
        return fn
    return Step("cpu", make, batch_size=8)


def local_vs_ray(tmp: Path, rows: int) -> tuple[float, float]:
    from babelvl.pipeline.executors.ray_executor import RayExecutor

    data = [{"id": i, "text": f"row {i}"} for i in range(rows)]
    pipeline = Pipeline("cpu", [cpu_step()])
    shards = make_shards(rows, 16)
    load = lambda s: [dict(r) for r in data[s.start:s.stop]]  # noqa: E731
    start = time.perf_counter()
    LocalExecutor(workers=1).run(pipeline, load, shards, tmp / "local")
    t_local = time.perf_counter() - start
    ray_exec = RayExecutor(workers=2)
    ray_exec._init()  # cluster start-up is paid once per session, not per build
    start = time.perf_counter()
    ray_exec.run(pipeline, load, shards, tmp / "ray")
    return t_local, time.perf_counter() - start


def peak_rss(rows: int, tmp: Path) -> float:
    code = f"""
import os, resource
from pathlib import Path
from rich.console import Console
from babelvl.pixmo.build import BuildSpec, run_build
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.testing.pixmo_fixtures import cap_rows, write_cap
with FakeVLMServer(lambda p, i: {CAPTION!r}) as s:
    data = write_cap(Path({str(tmp)!r}) / "m{rows}.parquet", {BASE!r}, cap_rows({BASE!r}, {rows}))
    run_build(BuildSpec(recipe="cap", languages=["fr"], out_dir=Path({str(tmp)!r}) / "m{rows}", data=str(data),
              generator="openai:w", options={{"base_url": s.base_url}}, shard_size=128), console=Console(file=open(os.devnull, "w")))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=800)
    parser.add_argument("--model-delay", type=float, default=0.05)
    parser.add_argument("--cpu-rows", type=int, default=384)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        os.environ.setdefault("BABELVL_CACHE", str(tmp / "cache"))
        print(f"Multi-PixMo build, local executor, 1 worker, {os.cpu_count()} CPU cores, loopback model server "
              f"with {args.model_delay * 1000:.0f} ms per request")
        with FakeVLMServer(responder, delay=args.model_delay) as server:
            for recipe in ("cap", "ama"):
                r = recipe_run(tmp, server, recipe, args.rows)
                overhead = (r["wall"] - r["backend"]) / r["backend"] if r["backend"] else float("nan")
                print(f"  {recipe:4s} {r['rows']} rows: {r['rows'] / r['wall']:7.1f} rows/s, "
                      f"{r['calls'] / r['rows']:.3f} model calls/row, wall {r['wall']:.1f} s, in backend "
                      f"{r['backend']:.1f} s, babelvl overhead {overhead:.1%} of backend time (target <= 5%)")
        t_local, t_ray = local_vs_ray(tmp, args.cpu_rows)
        print(f"CPU-bound step, {args.cpu_rows} rows: local 1 worker {t_local:.1f} s, Ray 2 workers {t_ray:.1f} s, "
              f"speed-up {t_local / t_ray:.2f}x (target >= 1.7x)")
        small, large = peak_rss(args.rows // 2, tmp), peak_rss(args.rows * 2, tmp)
        print(f"peak RSS (cap build, shard 128): {args.rows // 2} rows {small:.0f} MiB, {args.rows * 2} rows "
              f"{large:.0f} MiB, ratio {large / small:.2f} (target ~1: bounded by the shard)")


if __name__ == "__main__":
    main()
