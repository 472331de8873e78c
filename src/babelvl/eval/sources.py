"""Where each (benchmark, language) pair's data comes from: the sample suite, or user paths / Hub ids."""

from __future__ import annotations

import os
from pathlib import Path

from babelvl import __version__
from babelvl.benchmarks.base import Benchmark
from babelvl.data.loading import ResolvedSource, resolve_source
from babelvl.errors import InputError


def sample_suite_dir() -> Path:
    """Materialised sample suite, cached per babelvl version (it is regenerated deterministically)."""
    root = Path(os.environ.get("BABELVL_CACHE", Path.home() / ".cache" / "babelvl"))
    return root / "sample_suite" / __version__


def source_for(benchmark: Benchmark, language: str, *, data: str | None,
               suite: str | None) -> ResolvedSource:
    """The data of one benchmark in one language: ``--suite sample``, else ``resolve_source``."""
    if suite is None:
        return resolve_source(benchmark, data, language)
    if suite != "sample":
        raise InputError(f"unknown suite '{suite}' (known: sample)")
    from babelvl.benchmarks.sample_suite import materialize_sample_suite

    path = materialize_sample_suite(sample_suite_dir()).get((benchmark.name, language))
    if path is None:
        raise InputError(f"the sample suite has no {benchmark.name} items in '{language}' "
                         f"(it ships en, fr, de, it, es); pass --data for other languages")
    return ResolvedSource(str(path), None, None)
