"""Training throughput (samples/s) of ``babelvl.train`` for each tiny VLM family on this machine.

Builds tiny random-weight models offline and a synthetic mixture (one image + a short question per example),
runs ``train()`` for a few steps with full fine-tuning and LoRA, and prints samples/s as measured by the trainer's
own log (steps after the first, so one-off warm-up is excluded). ``--small`` adds the ``size="small"`` LLaVA,
whose per-token cost is closer to a real model's.

    python benchmarks/train_speed.py [--steps 10] [--batch-size 8] [--small] [--threads 1,2]

``--threads`` repeats the tiny LLaVA full fine-tune at each torch intra-op thread count and prints the machine's
load average beside it: on a CPU shared with other work, more threads than free cores makes training SLOWER (the
smoke ablation therefore trains with one thread), and a figure without the load beside it cannot be compared.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from babelvl.testing.tiny_models import FAMILIES, build_tiny_vlm
from babelvl.train.trainer import TrainSpec, train

_QA = [("What color is this picture?", "red"), ("Is there a cat in the image?", "no"),
       ("How many people are there?", "two"), ("Describe the image.", "a house with a tree")]


def write_mixture(root: Path, n: int, size: int) -> Path:
    """``n`` examples with random ``size``x``size`` PNGs in the mixture layout (train.jsonl + images/)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True, exist_ok=True)
    with (root / "train.jsonl").open("w", encoding="utf-8") as handle:
        for i in range(n):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "images" / f"{i}.png")
            question, answer = _QA[i % len(_QA)]
            row = {"id": str(i), "language": "en", "images": [f"images/{i}.png"],
                   "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
            handle.write(json.dumps(row) + "\n")
    return root


def measure(model: Path, mixture: Path, out: Path, method: str, steps: int, batch_size: int) -> tuple[float, float]:
    """(samples/s after the first step, wall seconds of the whole call incl. loading and saving)."""
    start = time.perf_counter()
    train(TrainSpec(model=str(model), mixture_dir=mixture, out_dir=out, method=method, max_steps=steps,
                    batch_size=batch_size, lr=1e-3, save_steps=10_000, quiet=True))
    wall = time.perf_counter() - start
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    rates = [entry["samples_per_second"] for entry in log if "samples_per_second" in entry][1:]
    return (sum(rates) / len(rates) if rates else 0.0), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--small", action="store_true", help="also the size='small' LLaVA (slower)")
    parser.add_argument("--threads", help="comma list of torch thread counts to compare on the tiny LLaVA")
    args = parser.parse_args()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cuda={torch.cuda.is_available()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mixture = write_mixture(root / "mixture", n=4 * args.batch_size, size=64)
        runs = [(family, "tiny") for family in FAMILIES] + ([("llava", "small")] if args.small else [])
        warm = build_tiny_vlm("paligemma", root / "warm")
        measure(warm, mixture, root / "warm-run", "full", 2, args.batch_size)  # one-off import/init costs
        print(f"{'model':<16}{'method':<8}{'samples/s':>10}{'wall s':>9}")
        for family, size in runs:
            model = build_tiny_vlm(family, root / f"{family}-{size}", size=size)
            for method in ("full", "lora"):
                rate, wall = measure(model, mixture, root / f"{family}-{size}-{method}", method, args.steps,
                                     args.batch_size)
                print(f"{family + '-' + size:<16}{method:<8}{rate:>10.1f}{wall:>9.1f}", flush=True)
        if args.threads:
            import os

            model = build_tiny_vlm("llava", root / "llava-tiny")
            for count in (int(t) for t in args.threads.split(",")):
                torch.set_num_threads(count)
                rate, wall = measure(model, mixture, root / f"threads-{count}", "full", args.steps, args.batch_size)
                print(f"llava-tiny full, {count} thread(s): {rate:.1f} samples/s, wall {wall:.1f}s, "
                      f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)


if __name__ == "__main__":
    main()
