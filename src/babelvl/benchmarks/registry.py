"""Benchmark names, their aliases, and :func:`get_benchmark`."""

from __future__ import annotations

from typing import Any

from babelvl.benchmarks.ai2d import AI2D, AI2DNoMask
from babelvl.benchmarks.base import Benchmark
from babelvl.benchmarks.mmbench import MMBench
from babelvl.benchmarks.mme import MME
from babelvl.benchmarks.pope import POPE
from babelvl.benchmarks.scienceqa import ScienceQA
from babelvl.errors import InputError

BENCHMARKS: dict[str, type[Benchmark]] = {
    "mmbench": MMBench, "scienceqa": ScienceQA, "mme": MME, "pope": POPE, "ai2d": AI2D,
}
"""The benchmarks ``--benchmarks all`` runs, in report order."""

EXTRA_BENCHMARKS: dict[str, type[Benchmark]] = {"ai2d_no_mask": AI2DNoMask}
"""Variants available by name but not part of ``all``."""

ALIASES = {
    "mmbench_en": "mmbench", "mmbench_dev": "mmbench", "mmbench_en_dev": "mmbench",
    "scienceqa_img": "scienceqa", "science_qa": "scienceqa", "sqa": "scienceqa", "sqa_img": "scienceqa",
    "mme_test": "mme", "pope_test": "pope", "ai2d_test": "ai2d", "ai2d_nomask": "ai2d_no_mask",
}


def benchmark_names() -> list[str]:
    return [*BENCHMARKS, *EXTRA_BENCHMARKS]


def get_benchmark(name: str, **options: Any) -> Benchmark:
    """A benchmark instance by name or alias (case, "-" and " " ignored); ``options`` go to its class."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    cls = BENCHMARKS.get(key) or EXTRA_BENCHMARKS.get(key)
    if cls is None:
        raise InputError(f"unknown benchmark '{name}' (known: {', '.join(benchmark_names())}; aliases: "
                         f"{', '.join(sorted(ALIASES))})", field="benchmark")
    return cls(**options)
