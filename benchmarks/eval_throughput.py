"""Eval throughput: batched vs one-at-a-time generation, a fully cached re-run, and peak memory vs items.

Runs ``run_eval`` on a POPE-schema fixture with a tiny random-weight LLaVA built offline, and prints the
figures and ratios measured in this one run. Targets (issue #2): batched >= 3x one-at-a-time; a fully
cached re-run >= 100x faster than the first run; peak memory that does not grow with the number of items.

    python benchmarks/eval_throughput.py [--items 192] [--batch-size 16] [--max-new-tokens 16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from babelvl.eval.runner import EvalSpec, run_eval
from babelvl.models import GenerationSettings, load_backend
from babelvl.testing.fixtures import write_pope
from babelvl.testing.tiny_models import build_tiny_vlm


def pope_fixture(path: Path, n: int) -> Path:
    splits = ("adversarial", "popular", "random")
    rows = [{"id": str(i), "question_id": str(i), "question": f"Is there a thing number {i} in the image?",
             "answer": "yes" if i % 2 else "no", "image_source": f"COCO_val2014_{i:012d}",
             "category": splits[i % 3]} for i in range(n)]
    return write_pope(path, rows)


DEVICE = {"device": "auto", "dtype": "auto"}  # set from --device/--dtype


def timed_run(model: Path, data: Path, out: Path, *, batch_size: int, cache: Path,
              settings: GenerationSettings) -> tuple[float, dict]:
    backend = load_backend(str(model), batch_size=batch_size, **DEVICE)
    spec = EvalSpec(benchmarks=["pope"], languages=["en"], out_dir=out, data={"pope": str(data)},
                    settings=settings, cache_path=cache, batch_size=batch_size)
    quiet = Console(file=open(os.devnull, "w"))
    start = time.perf_counter()
    summary = run_eval(spec, backend, console=quiet)
    return time.perf_counter() - start, summary


def child_peak_rss(model: Path, data: Path, out: Path, settings: GenerationSettings, batch: int) -> float:
    """Peak RSS (MiB) of a separate process evaluating ``data`` (each size measured in a fresh process)."""
    code = (
        "import json,os,resource,sys\n"
        "from pathlib import Path\nfrom rich.console import Console\n"
        "from babelvl.eval.runner import EvalSpec, run_eval\n"
        "from babelvl.models import GenerationSettings, load_backend\n"
        f"b = load_backend({str(model)!r}, batch_size={batch}, **{DEVICE!r})\n"
        f"s = EvalSpec(benchmarks=['pope'], languages=['en'], out_dir=Path({str(out)!r}), "
        f"data={{'pope': {str(data)!r}}}, settings=GenerationSettings(**{json.dumps(settings.as_dict())}), "
        f"batch_size={batch})\n"
        "run_eval(s, b, console=Console(file=open(os.devnull, 'w')))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(proc.stdout.strip().splitlines()[-1])


def measure(size: str, tmp: Path, n: int, batch_size: int, settings: GenerationSettings) -> dict[str, float]:
    model = build_tiny_vlm("llava", tmp / f"{size}-llava", size=size)
    data = pope_fixture(tmp / "pope.parquet", n)
    # Warm-up (model load, first-call overheads) so the timed runs start equal.
    timed_run(model, pope_fixture(tmp / "warm.parquet", 8), tmp / f"{size}-warm", batch_size=4,
              cache=tmp / f"{size}-warm.sqlite", settings=settings)
    t_one, _ = timed_run(model, data, tmp / f"{size}-one", batch_size=1, cache=tmp / f"{size}-one.sqlite",
                         settings=settings)
    t_batch, s_batch = timed_run(model, data, tmp / f"{size}-batch", batch_size=batch_size,
                                 cache=tmp / f"{size}-batch.sqlite", settings=settings)
    # A fully cached re-run: a new output folder, the same response cache.
    t_cached, s_cached = timed_run(model, data, tmp / f"{size}-cached", batch_size=batch_size,
                                   cache=tmp / f"{size}-batch.sqlite", settings=settings)
    assert s_cached["stats"]["model_calls"] == 0, "the re-run should be fully cached"
    assert s_batch["benchmarks"] == s_cached["benchmarks"], "cached results must equal the first run's"
    # Re-running the same command on a finished output folder (resume with nothing left to do).
    t_resume, _ = timed_run(model, data, tmp / f"{size}-batch", batch_size=batch_size,
                            cache=tmp / f"{size}-batch.sqlite", settings=settings)
    return {"one": t_one, "batch": t_batch, "cached": t_cached, "resume": t_resume}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=192)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--sizes", default="tiny,small",
                        help="model sizes from babelvl.testing.tiny_models.SIZES (tiny: 50k params; small: 27M)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (as babelvl eval --device)")
    parser.add_argument("--dtype", default="auto", help="auto, float32, bfloat16 (as babelvl eval --dtype)")
    args = parser.parse_args()
    DEVICE.update(device=args.device, dtype=args.dtype)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    n = args.items
    import torch

    where = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"
    print(f"eval throughput: random-weight LLaVA built offline, {where}, dtype {args.dtype}, POPE schema, "
          f"{n} items, max_new_tokens={args.max_new_tokens}, batch {args.batch_size}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ.setdefault("BABELVL_CACHE", str(tmp / "babelvl-cache"))
        for size in args.sizes.split(","):
            t = measure(size, tmp, n, args.batch_size, settings)
            print(f"[{size}]")
            for key, label in (("one", "one-at-a-time (batch 1)"), ("batch", f"batched (batch {args.batch_size})"),
                               ("cached", "fully cached re-run, new folder"),
                               ("resume", "re-run of the finished folder")):
                print(f"  {label:34s} {n / t[key]:9.1f} items/s  ({t[key]:.2f} s)")
            print(f"  ratio batched / one-at-a-time:     {t['one'] / t['batch']:7.1f}x  (target >= 3x)")
            print(f"  ratio cached re-run / first run:   {t['batch'] / t['cached']:7.1f}x  (target >= 100x; "
                  f"first run batched)")
            print(f"  ratio finished-folder re-run / first run: {t['batch'] / t['resume']:7.1f}x")
        model = build_tiny_vlm("llava", tmp / "tiny-llava")
        small = pope_fixture(tmp / "small.parquet", n)
        large = pope_fixture(tmp / "large.parquet", 4 * n)
        rss_small = child_peak_rss(model, small, tmp / "mem-small", settings, args.batch_size)
        rss_large = child_peak_rss(model, large, tmp / "mem-large", settings, args.batch_size)
    print(f"peak RSS (tiny model, separate processes): {n} items {rss_small:.0f} MiB; {4 * n} items "
          f"{rss_large:.0f} MiB; ratio {rss_large / rss_small:.2f} (target ~1.0: no growth with items)")


if __name__ == "__main__":
    main()
