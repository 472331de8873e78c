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
from babelvl.eval.uncertainty import paired_language_tests
from babelvl.eval.scoring import compute_metrics, judge, record_to_scored, scored_to_record, with_provenance
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
    """Counts and times of one run; ``timing()`` is what results.json records.

    Times are kept apart so that no rate mixes them: ``load_seconds`` (model loading, wherever it
    happens: before the run or lazily inside the first ``generate``), ``generation_seconds`` (inside
    the model's ``generate`` calls, loading taken out), ``seconds`` (the whole run: data, parsing,
    records and reports too).
    """

    items: int = 0
    skipped_done: int = 0
    model_calls: int = 0
    cache_hits: int = 0
    rejected: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0
    generation_seconds: float = 0.0
    generated_items: int = 0
    """Items answered by the model in this run (cache hits excluded)."""
    generated_tokens: int | None = None
    """Tokens the model generated, or None when the backend cannot count them."""

    @property
    def items_per_second(self) -> float | None:
        """Model throughput: items the model answered per second of generation."""
        return self.generated_items / self.generation_seconds if self.generation_seconds else None

    def timing(self) -> dict[str, Any]:
        tokens_per_second = (self.generated_tokens / self.generation_seconds
                             if self.generated_tokens is not None and self.generation_seconds else None)
        return {"load_seconds": round(self.load_seconds, 3), "generation_seconds": round(self.generation_seconds, 3),
                "wall_seconds": round(self.seconds, 3), "generated_items": self.generated_items,
                "items_per_second": self.items_per_second, "generated_tokens": self.generated_tokens,
                "generated_tokens_per_second": tokens_per_second, "cached_items": self.cache_hits}


def _records_path(out_dir: Path, benchmark: str, language: str) -> Path:
    return out_dir / "records" / benchmark / f"{language}.jsonl"


def _check_run_file(out_dir: Path, fingerprint: dict[str, Any]) -> None:
    """Refuse to mix two different runs in one folder; a resumed run must match the first.

    A run that failed before scoring any item (a typo in --model, a bad --data path) binds nothing: the
    corrected command may start again in the same folder.
    """
    run_file = out_dir / "run.json"
    if run_file.exists() and _has_records(out_dir):
        import json

        try:
            previous = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the run file ({exc}); use a new --out folder",
                             file=str(run_file)) from None
        keys = ("model", "settings", "parser")
        if {k: previous.get(k) for k in keys} != {k: fingerprint.get(k) for k in keys}:
            raise InputError("this output folder holds a run with another model, settings or parser; "
                             "use a new --out folder", file=str(run_file))
    write_json_atomic(run_file, fingerprint)


def _has_records(out_dir: Path) -> bool:
    """True when an earlier run in ``out_dir`` scored at least one item."""
    return any(path.stat().st_size > 0 for path in (out_dir / "records").glob("*/*.jsonl"))


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TaskProgressColumn(), TextColumn("{task.fields[rate]} items/s"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=console, transient=False)


def run_eval(spec: EvalSpec, backend: Backend, *, console: Console | None = None,
             after_batch: Callable[[int], None] | None = None, load_seconds: float = 0.0) -> dict[str, Any]:
    """Run (or resume) an evaluation and write records, results and the report; return the results.

    ``after_batch`` is called with the number of items finished so far (tests use it to simulate a kill).
    ``load_seconds`` is the time the caller spent building ``backend`` (loading done lazily inside
    ``generate`` is measured here, from ``backend.load_seconds``).
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

    stats = RunStats(load_seconds=load_seconds)
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
                                    cached, batch_size, out_dir, stats, progress, task, after_batch,
                                    backend)
                rejects_summary.setdefault(bench.name, {})[language] = len(rejected)
                records = read_jsonl_tolerant(_records_path(out_dir, bench.name, language))
                metrics = compute_metrics(bench, [record_to_scored(r) for r in records], spec.parser)
                results.setdefault(bench.name, {})[language] = with_provenance(
                    metrics, benchmark=bench.name, language=language, parser=spec.parser,
                    data=source.source, rejected=len(rejected))
    stats.model_calls, stats.cache_hits = cached.misses, cached.hits

    consistency = {b.name: cross_lingual_consistency(
        {lang: read_jsonl_tolerant(_records_path(out_dir, b.name, lang)) for lang in spec.languages})
        for b in benchmarks}
    summary = {"babelvl_version": __version__, "model": backend.identity(), "parser": spec.parser,
               "settings": spec.settings.as_dict(), "languages": spec.languages,
               "benchmarks": results, "consistency": consistency, "rejected": rejects_summary,
               "paired_vs_reference": paired_language_tests(
                   {b.name: {lang: read_jsonl_tolerant(_records_path(out_dir, b.name, lang))
                             for lang in spec.languages} for b in benchmarks}, spec.parser)}
    stats.seconds = time.perf_counter() - started + load_seconds
    summary["timing"] = stats.timing()
    write_json_atomic(out_dir / "results.json", summary)
    from babelvl.report.eval_report import write_eval_report

    write_eval_report(summary, out_dir)
    rate = f"{stats.items_per_second:.1f} items/s" if stats.items_per_second else "no generation"
    tokens = (f", {stats.timing()['generated_tokens_per_second']:.1f} tokens/s"
              if stats.timing()["generated_tokens_per_second"] else "")
    console.print(f"[green]done[/green]: {stats.items} items scored ({stats.skipped_done} already done), "
                  f"{stats.model_calls} model calls, {stats.cache_hits} cache hits, "
                  f"{stats.rejected} rows rejected; model load {stats.load_seconds:.1f}s, generation "
                  f"{stats.generation_seconds:.1f}s ({rate}{tokens}), wall {stats.seconds:.1f}s; "
                  f"results in {out_dir}")
    summary["stats"] = asdict(stats)
    return summary


def _run_one(bench: Benchmark, language: str, rows: Any, source: str, pack: Any, spec: EvalSpec,
             cached: CachedBackend, batch_size: int, out_dir: Path, stats: RunStats,
             progress: Progress, task: Any, after_batch: Callable[[int], None] | None,
             backend: Backend) -> list[Rejected]:
    records_path = _records_path(out_dir, bench.name, language)
    done = {r["id"] for r in read_jsonl_tolerant(records_path)}
    rejected: list[Rejected] = []
    seen: set[str] = set()
    batch: list[Item] = []
    generated_here, generation_here = 0, 0.0

    def flush(appender: JsonlAppender) -> None:
        nonlocal generated_here, generation_here
        if not batch:
            return
        prompts = [bench.prompt(item, pack) for item in batch]
        requests = [Request(prompt=p, images=tuple(item.images)) for p, item in zip(prompts, batch)]
        load0, tokens0, misses0 = backend.load_seconds, backend.generated_tokens, cached.misses
        t = time.perf_counter()
        responses = cached.generate(requests, spec.settings)
        loading = backend.load_seconds - load0
        generation = time.perf_counter() - t - loading
        stats.load_seconds += loading
        stats.generation_seconds += generation
        generated = cached.misses - misses0
        stats.generated_items += generated
        if backend.generated_tokens is not None and generated:
            stats.generated_tokens = (stats.generated_tokens or 0) + backend.generated_tokens - (tokens0 or 0)
        generated_here += generated
        generation_here += generation
        appender.write_many(
            scored_to_record(judge(bench, item, resp, pack, spec.parser), benchmark=bench.name,
                             prompt=prompt, response=resp)
            for item, prompt, resp in zip(batch, prompts, responses))
        stats.items += len(batch)
        # the rate counts generation only: not model loading, data reading, parsing or cache hits
        progress.update(task, completed=batch[-1].row + 1,
                        rate=f"{generated_here / generation_here:.1f}" if generated_here and generation_here
                        else "cached")
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
