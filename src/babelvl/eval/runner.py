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
from typing import Any, Callable, Iterator

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
from babelvl.io.files import JsonlAppender, read_jsonl_tolerant, remove_stale_temporaries, write_json_atomic
from babelvl.io.runlog import RUN_LOG, append_run_log
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
    """Recorded only: an in-process backend batches by its own ``batch_size``, a server keeps its window full."""


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

    ``after_batch`` is called after each answer with the number of answers this run has had (tests use it to
    simulate a kill at any point). ``load_seconds`` is the time the caller spent building ``backend`` (loading
    done lazily inside ``generate`` is measured here, from ``backend.load_seconds``). Times and counts of the
    run go to the run log (``run-log.jsonl``), not to results.json, so results are the same bytes after a
    kill and a resume.
    """
    console = console or ui.console()
    if spec.parser not in PARSERS:
        raise InputError(f"unknown parser '{spec.parser}' (known: {', '.join(PARSERS)})")
    benchmarks = [get_benchmark(name) for name in spec.benchmarks]
    packs = {code: load_language(code) for code in spec.languages}
    out_dir = spec.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)  # left by a killed run
    cache = ResponseCache(spec.cache_path or out_dir / "cache.sqlite")
    cached = CachedBackend(backend, cache)
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
        parts = []
        for bench in benchmarks:
            for language in spec.languages:
                source = source_for(bench, language, data=spec.data.get(bench.name), suite=spec.suite)
                rows = load_rows(source.source, config=source.config, split=source.split,
                                 language=language)
                task = progress.add_task(f"{bench.name}/{language}", total=len(rows), rate="-")
                parts.append(_Part(bench, language, rows, source.source, packs[language], task,
                                   _records_path(out_dir, bench.name, language)))
        _run_parts(parts, spec, cached, out_dir, stats, progress, after_batch, backend)
        for part in parts:
            rejects_summary.setdefault(part.bench.name, {})[part.language] = len(part.rejected)
            records = read_jsonl_tolerant(part.records_path)
            metrics = compute_metrics(part.bench, [record_to_scored(r) for r in records], spec.parser)
            results.setdefault(part.bench.name, {})[part.language] = with_provenance(
                metrics, benchmark=part.bench.name, language=part.language, parser=spec.parser,
                data=part.source, rejected=len(part.rejected))
    stats.model_calls, stats.cache_hits = cached.misses, cached.hits

    consistency = {b.name: cross_lingual_consistency(
        {lang: read_jsonl_tolerant(_records_path(out_dir, b.name, lang)) for lang in spec.languages})
        for b in benchmarks}
    summary = {"babelvl_version": __version__, "model": backend.identity(), "parser": spec.parser,
               "settings": spec.settings.as_dict(), "languages": spec.languages,
               "benchmarks": results, "consistency": consistency, "rejected": rejects_summary,
               "paired_vs_reference": paired_language_tests(
                   {b.name: {lang: read_jsonl_tolerant(_records_path(out_dir, b.name, lang))
                             for lang in spec.languages} for b in benchmarks}, spec.parser),
               "run_log": RUN_LOG}  # load and generation time, items/s, tokens/s of each run: the run log
    stats.seconds = time.perf_counter() - started + load_seconds
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
    summary["timing"] = stats.timing()
    append_run_log(out_dir, "eval", {"timing": summary["timing"], "items": stats.items,
                                     "skipped_done": stats.skipped_done, "model_calls": stats.model_calls,
                                     "cache_hits": stats.cache_hits, "rejected": stats.rejected})
    _refuse_all_rejected(parts, out_dir)
    return summary


def _refuse_all_rejected(parts: list[_Part], out_dir: Path) -> None:
    """A benchmark and language whose every row was rejected scored nothing: that is bad input (exit 2), not
    "done". Everything else was written first: records, results, report, and every reason in the rejects."""
    for part in parts:
        if part.rejected and not read_jsonl_tolerant(part.records_path):
            first = part.rejected[0]
            rejects = out_dir / "rejects" / part.bench.name / f"{part.language}.json"
            raise InputError(f"every row of {part.bench.name}/{part.language} was rejected ({len(part.rejected)}, "
                             f"reasons in {rejects}); the first: {first.reason}",
                             file=first.file or part.source, row=first.row, field=first.field)


@dataclass
class _Part:
    """One benchmark in one language: its rows, records file and the reorder buffer of its records."""

    bench: Benchmark
    language: str
    rows: Any
    source: str
    pack: Any
    task: Any
    records_path: Path
    rejected: list[Rejected] = field(default_factory=list)
    produced: int = 0
    next_to_write: int = 0
    finished: dict[int, dict[str, Any]] = field(default_factory=dict)
    unwritten: list[dict[str, Any]] = field(default_factory=list)


#: records are appended (and fsynced) in groups of this many, or after this many seconds
WRITE_EVERY, WRITE_SECONDS = 64, 1.0


def _run_parts(parts: list[_Part], spec: EvalSpec, cached: CachedBackend, out_dir: Path, stats: RunStats,
               progress: Progress, after_batch: Callable[[int], None] | None, backend: Backend) -> None:
    """Stream every part's items through the model's window at once; write each part's records in item order.

    Items are produced lazily and sent as the window has room (a server keeps ``--concurrency`` requests in
    flight across all benchmarks and languages, with no pause between them; an in-process model gets its
    batches). Answers come back in completion order and are cached as each returns; records wait in a small
    reorder buffer per part, so a records file is in item order and the same whether the run was interrupted
    or not.
    """
    in_flight: dict[int, tuple[_Part, int, Item, str]] = {}  # stream index -> (part, index in part, item, prompt)
    appenders: dict[int, JsonlAppender] = {}
    t0, finished_here, last_write, answered = time.perf_counter(), 0, time.perf_counter(), 0

    def write(part: _Part) -> int:
        """Append (and fsync) the part's records that are in order; answers are already cached, so records lost
        to a kill before this are rebuilt from the cache without a model call."""
        if not part.unwritten:
            return 0
        n = len(part.unwritten)
        appenders[id(part)].write_many(part.unwritten)
        part.unwritten = []
        stats.items += n
        elapsed = time.perf_counter() - t0
        progress.update(part.task, advance=n, rate=f"{(finished_here + n) / elapsed:.1f}" if elapsed else "-")
        return n

    def produce() -> Iterator[Request]:
        produced = 0
        for part in parts:
            done = {r["id"] for r in read_jsonl_tolerant(part.records_path)}
            appenders[id(part)] = JsonlAppender(part.records_path)
            seen: set[str] = set()
            n_items = 0
            for obj in part.bench.iter_items(part.rows, part.language, part.source):
                if isinstance(obj, Rejected):
                    part.rejected.append(obj)
                    continue
                if obj.id in seen:
                    part.rejected.append(Rejected(part.bench.name, part.language, obj.row, "id",
                                                  f"duplicate item id '{obj.id}'", file=part.source, id=obj.id))
                    continue
                seen.add(obj.id)
                if spec.limit is not None and n_items >= spec.limit:
                    break
                n_items += 1
                if obj.id in done:
                    stats.skipped_done += 1
                    progress.update(part.task, advance=1)
                    continue
                prompt = part.bench.prompt(obj, part.pack)
                in_flight[produced] = (part, part.produced, obj, prompt)
                part.produced += 1
                produced += 1
                yield Request(prompt=prompt, images=tuple(obj.images))

    load0, tokens0, misses0 = backend.load_seconds, backend.generated_tokens, cached.misses
    t_stream = time.perf_counter()
    try:
        for index, response in cached.generate_stream(produce(), spec.settings):
            part, local, item, prompt = in_flight.pop(index)
            part.finished[local] = scored_to_record(
                judge(part.bench, item, response, part.pack, spec.parser), benchmark=part.bench.name,
                prompt=prompt, response=response)
            while part.next_to_write in part.finished:
                part.unwritten.append(part.finished.pop(part.next_to_write))
                part.next_to_write += 1
            if len(part.unwritten) >= WRITE_EVERY or time.perf_counter() - last_write > WRITE_SECONDS:
                finished_here += write(part)
                last_write = time.perf_counter()
            answered += 1
            if after_batch is not None:
                after_batch(answered)
        for part in parts:
            finished_here += write(part)
    finally:
        for appender in appenders.values():
            appender.close()
    # the stream's time, model loading taken out: reading data, parsing and writing overlap with generation
    stats.load_seconds += backend.load_seconds - load0
    stats.generation_seconds += time.perf_counter() - t_stream - (backend.load_seconds - load0)
    stats.generated_items += cached.misses - misses0
    if backend.generated_tokens is not None and cached.misses > misses0:
        stats.generated_tokens = (stats.generated_tokens or 0) + backend.generated_tokens - (tokens0 or 0)
    for part in parts:
        progress.update(part.task, completed=len(part.rows))
        stats.rejected += len(part.rejected)
        write_json_atomic(out_dir / "rejects" / part.bench.name / f"{part.language}.json",
                          [asdict(r) for r in part.rejected])
