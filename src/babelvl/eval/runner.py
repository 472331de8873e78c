"""``babelvl eval``: run a model over benchmarks x languages, resumably.

Resume works at two levels. Finished items are in ``records/<benchmark>/<lang>.jsonl`` (appended and
fsynced batch by batch) and are skipped; responses are in the SQLite cache (stored as soon as a batch
returns), so an item whose record was lost to a kill is re-parsed from the cache without a model call.
Data is streamed from Arrow files, so memory does not grow with the number of items.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from babelvl import ui
from babelvl import __version__
from babelvl.benchmarks.base import Benchmark, Item, Rejected
from babelvl.benchmarks.registry import get_benchmark
from babelvl.data.loading import load_rows
from babelvl.errors import InputError
from babelvl.eval.consistency import cross_lingual_consistency
from babelvl.eval.scoring import judge, record_to_scored, scored_to_record, with_provenance
from babelvl.eval.sources import source_for
from babelvl.io.files import JsonlAppender, read_jsonl_tolerant, write_json_atomic
from babelvl.languages import load_language
from babelvl.models import Backend, CachedBackend, GenerationSettings, Request, ResponseCache
from babelvl.parsing import PARSERS


@dataclass
class EvalSpec:
    """Everything a run depends on; stored in ``run.json`` and checked on resume."""

    benchmarks: list[str]
    languages: list[str]
    out_dir: Path
    data: dict[str, str] = field(default_factory=dict)
    suite: str | None = None
    parser: str = "babelvl"
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    limit: int | None = None
    cache_path: Path | None = None
    batch_size: int | None = None


@dataclass
class RunStats:
    items: int = 0
    skipped_done: int = 0
    model_calls: int = 0
    cache_hits: int = 0
    rejected: int = 0
    seconds: float = 0.0

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def _records_path(out_dir: Path, benchmark: str, language: str) -> Path:
    return out_dir / "records" / benchmark / f"{language}.jsonl"


def _check_run_file(out_dir: Path, fingerprint: dict[str, Any]) -> None:
    """Refuse to mix two different runs in one folder; a resumed run must match the first."""
    run_file = out_dir / "run.json"
    if run_file.exists():
        import json

        previous = json.loads(run_file.read_text(encoding="utf-8"))
        keys = ("model", "settings", "parser")
        if {k: previous.get(k) for k in keys} != {k: fingerprint.get(k) for k in keys}:
            raise InputError("this output folder holds a run with another model, settings or parser; "
                             "use a new --out folder", file=str(run_file))
    write_json_atomic(run_file, fingerprint)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TaskProgressColumn(), TextColumn("{task.fields[rate]} items/s"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=console, transient=False)


def run_eval(spec: EvalSpec, backend: Backend, *, console: Console | None = None,
             after_batch: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) an evaluation and write records, results and the report; return the results.

    ``after_batch`` is called with the number of items finished so far (tests use it to simulate a kill).
    """
    console = console or ui.console()
    if spec.parser not in PARSERS:
        raise InputError(f"unknown parser '{spec.parser}' (known: {', '.join(PARSERS)})")
    benchmarks = [get_benchmark(name) for name in spec.benchmarks]
    packs = {code: load_language(code) for code in spec.languages}
    out_dir = spec.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = ResponseCache(spec.cache_path or out_dir / "cache.sqlite")
    cached = CachedBackend(backend, cache)
    batch_size = spec.batch_size or max(1, backend.batch_size)
    fingerprint = {"babelvl_version": __version__, "model": backend.identity(),
                   "settings": spec.settings.as_dict(), "parser": spec.parser,
                   "benchmarks": spec.benchmarks, "languages": spec.languages,
                   "data": spec.data, "suite": spec.suite, "limit": spec.limit}
    _check_run_file(out_dir, fingerprint)

    stats = RunStats()
    started = time.perf_counter()
    results: dict[str, Any] = {}
    rejects_summary: dict[str, dict[str, int]] = {}
    with _progress(console) as progress:
        for bench in benchmarks:
            for language in spec.languages:
                source = source_for(bench, language, data=spec.data.get(bench.name), suite=spec.suite)
                rows = load_rows(source.source, config=source.config, split=source.split,
                                 language=language)
                task = progress.add_task(f"{bench.name}/{language}", total=len(rows), rate="-")
                rejected = _run_one(bench, language, rows, source.source, packs[language], spec,
                                    cached, batch_size, out_dir, stats, progress, task, after_batch)
                rejects_summary.setdefault(bench.name, {})[language] = len(rejected)
                records = read_jsonl_tolerant(_records_path(out_dir, bench.name, language))
                metrics = bench.metrics([record_to_scored(r) for r in records])
                results.setdefault(bench.name, {})[language] = with_provenance(
                    metrics, benchmark=bench.name, language=language, parser=spec.parser,
                    data=source.source, rejected=len(rejected))
    stats.seconds = time.perf_counter() - started
    stats.model_calls, stats.cache_hits = cached.misses, cached.hits

    consistency = {b.name: cross_lingual_consistency(
        {lang: read_jsonl_tolerant(_records_path(out_dir, b.name, lang)) for lang in spec.languages})
        for b in benchmarks}
    summary = {"babelvl_version": __version__, "model": backend.identity(), "parser": spec.parser,
               "settings": spec.settings.as_dict(), "languages": spec.languages,
               "benchmarks": results, "consistency": consistency, "rejected": rejects_summary}
    write_json_atomic(out_dir / "results.json", summary)
    from babelvl.report.eval_report import write_eval_report

    write_eval_report(summary, out_dir)
    console.print(f"[green]done[/green]: {stats.items} items scored ({stats.skipped_done} already done), "
                  f"{stats.model_calls} model calls, {stats.cache_hits} cache hits, "
                  f"{stats.rejected} rows rejected, {stats.seconds:.1f}s; results in {out_dir}")
    summary["stats"] = asdict(stats)
    return summary


def _run_one(bench: Benchmark, language: str, rows: Any, source: str, pack: Any, spec: EvalSpec,
             cached: CachedBackend, batch_size: int, out_dir: Path, stats: RunStats,
             progress: Progress, task: Any, after_batch: Callable[[int], None] | None) -> list[Rejected]:
    records_path = _records_path(out_dir, bench.name, language)
    done = {r["id"] for r in read_jsonl_tolerant(records_path)}
    rejected: list[Rejected] = []
    seen: set[str] = set()
    batch: list[Item] = []
    t0, finished_here = time.perf_counter(), 0

    def flush(appender: JsonlAppender) -> None:
        nonlocal finished_here
        if not batch:
            return
        prompts = [bench.prompt(item, pack) for item in batch]
        requests = [Request(prompt=p, images=tuple(item.images)) for p, item in zip(prompts, batch)]
        responses = cached.generate(requests, spec.settings)
        appender.write_many(
            scored_to_record(judge(bench, item, resp, pack, spec.parser), benchmark=bench.name,
                             prompt=prompt, response=resp)
            for item, prompt, resp in zip(batch, prompts, responses))
        finished_here += len(batch)
        stats.items += len(batch)
        elapsed = time.perf_counter() - t0
        progress.update(task, completed=batch[-1].row + 1,
                        rate=f"{finished_here / elapsed:.1f}" if elapsed else "-")
        batch.clear()
        if after_batch is not None:
            after_batch(stats.items)

    n_items = 0
    with JsonlAppender(records_path) as appender:
        for obj in bench.iter_items(rows, language, source):
            if isinstance(obj, Rejected):
                rejected.append(obj)
                continue
            if obj.id in seen:
                rejected.append(Rejected(bench.name, language, obj.row, "id",
                                         f"duplicate item id '{obj.id}'", file=source, id=obj.id))
                continue
            seen.add(obj.id)
            if spec.limit is not None and n_items >= spec.limit:
                break
            n_items += 1
            if obj.id in done:
                stats.skipped_done += 1
                progress.update(task, completed=obj.row + 1)
                continue
            batch.append(obj)
            if len(batch) >= batch_size:
                flush(appender)
        flush(appender)
    progress.update(task, completed=len(rows))
    stats.rejected += len(rejected)
    write_json_atomic(out_dir / "rejects" / bench.name / f"{language}.json",
                      [asdict(r) for r in rejected])
    return rejected
