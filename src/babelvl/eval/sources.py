"""Where each (benchmark, language) pair's data comes from: the sample suite, user paths or Hub ids."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from babelvl import __version__
from babelvl.benchmarks.base import Benchmark
from babelvl.errors import InputError


@dataclass(frozen=True)
class DataSource:
    source: str
    config: str | None
    split: str | None
    language: str | None
    """Passed to the loader so it can pick a per-language subfolder of a translated set."""


def sample_suite_dir() -> Path:
    """Materialised sample suite, cached per babelvl version (it is regenerated deterministically)."""
    root = Path(os.environ.get("BABELVL_CACHE", Path.home() / ".cache" / "babelvl"))
    return root / "sample_suite" / __version__


def resolve_source(benchmark: Benchmark, language: str, *, data: str | None,
                   suite: str | None) -> DataSource:
    """Pick the data for one benchmark and language.

    ``data`` may contain ``{lang}`` (``pope_{lang}.parquet``); a folder with one subfolder per language
    is resolved by the loader. Without ``data`` the benchmark's Hub id is used for English and its
    translated Hub set (where one is published) for other languages.
    """
    if suite == "sample":
        from babelvl.benchmarks.sample_suite import materialize_sample_suite

        paths = materialize_sample_suite(sample_suite_dir())
        path = paths.get((benchmark.name, language))
        if path is None:
            raise InputError(f"the sample suite has no {benchmark.name} items in '{language}' "
                             f"(it ships en, fr, de, it, es); pass --data for other languages")
        return DataSource(str(path), None, None, None)
    if suite is not None:
        raise InputError(f"unknown suite '{suite}' (known: sample)")
    if data:
        return DataSource(data.replace("{lang}", language), None, None, language)
    if language == "en":
        return DataSource(benchmark.hub_id, benchmark.config, benchmark.split, None)
    translated = getattr(benchmark, "translated_hub_id", None)
    if translated:
        return DataSource(translated, language, benchmark.split, None)
    raise InputError(f"no published {benchmark.name} data in '{language}' is known; translate it with "
                     f"babelvl or pass --data {benchmark.name}=PATH (a folder with one subfolder per "
                     f"language, or a path containing {{lang}})")
