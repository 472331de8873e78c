"""Translation cost with and without segment de-duplication, on POPE-like and MMBench-like fixtures.

Runs the real pipeline against a loopback OpenAI-compatible server (the toy translator, a stand-in for a
remote LLM server) and prints engine calls, calls per row and segments/s, with the ratio. Targets
(issue #3, #10): engine calls never exceed distinct units x languages (a unit: an item's question, options
and short hint, sent together); on a POPE-like fixture of 9,000
rows with a few hundred distinct questions, at least 20x fewer calls than rows.

    python benchmarks/translate_dedup.py [--pope-rows 9000] [--distinct 300] [--mmbench-questions 500]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console

from babelvl.testing.fixtures import write_mmbench, write_pope
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.testing.toy_translator import toy_translate
from babelvl.translate.pipeline import TranslateSpec, run_translate

OBJECTS = ["cat", "dog", "car", "thing", "tree", "house", "bird", "chair", "cup", "boat"]


def pope_like(path: Path, rows: int, distinct: int) -> Path:
    questions = [f"Is there a {OBJECTS[i % len(OBJECTS)]} number {i} in the image?".replace(f" number {i}", f" {chr(97 + i % 26)}{chr(97 + i // 26 % 26)}")
                 for i in range(distinct)]
    splits = ("adversarial", "popular", "random")
    return write_pope(path, [{"id": str(i), "question_id": str(i % 3000), "question": questions[i % distinct],
                              "answer": "yes" if i % 2 else "no", "image_source": f"COCO_{i // 6}",
                              "category": splits[i // 3000 % 3]} for i in range(rows)])


def mmbench_like(path: Path, questions: int) -> Path:
    rows = []
    for q in range(questions):
        options = [f"the {OBJECTS[(q + k) % len(OBJECTS)]} {chr(97 + q % 26)}" for k in range(4)]
        for rotation in range(4):  # circular copies: same texts, options rotated, index + k * 1e6
            rotated = options[rotation:] + options[:rotation]
            rows.append({"index": q + rotation * 1_000_000, "question": f"Which object is on the left {q % 50}?",
                         "hint": "Look at the image carefully." if q % 3 == 0 else None,
                         "A": rotated[0], "B": rotated[1], "C": rotated[2], "D": rotated[3],
                         "answer": "ABCD"[(0 - rotation) % 4], "category": "spatial", "L2-category": "relation",
                         "source": "babelvl", "split": "dev", "comment": None})
    return write_mmbench(path, rows)


def measure(server: FakeVLMServer, data: Path, benchmark: str, out: Path, dedup: bool) -> dict:
    spec = TranslateSpec(data=str(data), languages=["fr"], out_dir=out, benchmark=benchmark,
                         engine="llm:openai:toy-translator", retries=0, dedup=dedup,
                         engine_options={"base_url": server.base_url, "license": "test double"})
    before = server.request_count
    start = time.perf_counter()
    summary = run_translate(spec, console=Console(file=open(os.devnull, "w")))
    seconds = time.perf_counter() - start
    return {"calls": server.request_count - before, "seconds": seconds, "rows": summary["rows"],
            "segments": summary["segment_occurrences"], "distinct": summary["distinct_segments"],
            "units": summary["distinct_units"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pope-rows", type=int, default=9000)
    parser.add_argument("--distinct", type=int, default=300)
    parser.add_argument("--mmbench-questions", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name, FakeVLMServer(toy_translate) as server:
        tmp = Path(tmp_name)
        os.environ.setdefault("BABELVL_CACHE", str(tmp / "cache"))
        fixtures = {"pope": pope_like(tmp / "pope.parquet", args.pope_rows, args.distinct),
                    "mmbench": mmbench_like(tmp / "mmbench.parquet", args.mmbench_questions)}
        print("translation de-duplication (1 target language, loopback OpenAI-compatible toy translator, "
              f"{os.cpu_count()} CPU cores)")
        for name, data in fixtures.items():
            on = measure(server, data, name, tmp / f"{name}-dedup", dedup=True)
            off = measure(server, data, name, tmp / f"{name}-nodedup", dedup=False)
            assert on["calls"] <= on["units"], "engine calls must not exceed distinct units x languages"
            print(f"[{name}-like] {on['rows']} rows, {on['segments']} segment occurrences, {on['units']} distinct "
                  f"units ({on['distinct']} segments)")
            for label, r in (("with de-dup", on), ("without de-dup", off)):
                print(f"  {label:15s} engine calls {r['calls']:6d}  calls/row {r['calls'] / r['rows']:.3f}  "
                      f"{r['segments'] / r['seconds']:8.1f} segments/s  ({r['seconds']:.1f} s)")
            print(f"  calls saved: {off['calls'] / on['calls']:.1f}x fewer; rows per call {on['rows'] / on['calls']:.1f} "
                  f"(target on POPE-like: >= 20x fewer calls than rows); wall time {off['seconds'] / on['seconds']:.1f}x")


if __name__ == "__main__":
    main()
