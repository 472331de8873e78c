"""``babelvl translate``: a benchmark in, the same benchmark in N more languages out.

Steps: load rows -> plan units and segments (de-duplicated; see ``plan``) -> translate every unit into
every language through one stream of engine requests (cached, checked, retried, post-edited; see
``segment_job``) -> per language: assemble rows in the source schema -> write Parquet per language, the
segment store, the quality report and the dataset card. Every engine answer is cached soon after it
returns, and every output file is written atomically, so a killed run started again repeats no stored
call and ends with identical files. Re-running after importing post-edits rebuilds the dataset from the
cache, with no engine call. Text columns are read once as Python lists, never cell by cell.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from babelvl import ui
from babelvl import __version__
from babelvl.data.card import Card, ModelUse
from babelvl.data.loading import load_rows, require_columns, require_named_columns
from babelvl.errors import InputError
from babelvl.io.files import local_path_or_none, remove_stale_temporaries, run_file_path, write_atomic, write_json_atomic
from babelvl.io.runlog import RUN_LOG, append_run_log
from babelvl.languages import LanguagePack, load_language
from babelvl.models import ResponseCache
from babelvl.translate.assemble import assemble_columns
from babelvl.translate.base import SegmentTranslation
from babelvl.translate.plan import Plan, build_plan, column_lists
from babelvl.translate.segment_job import EngineSlot, checks_fingerprint, translate_plan
from babelvl.translate.specs import FieldSpec, spec_for
from babelvl.translate.writer import write_rows


@dataclass
class TranslateSpec:
    """Everything a translation run depends on; saved as ``translate.json`` so it can be rebuilt."""

    data: str
    languages: list[str]
    out_dir: Path
    engine: str
    benchmark: str | None = None
    fields: str | None = None
    options_field: str | None = None
    config: str | None = None
    split: str | None = None
    source_language: str = "en"
    engine_options: dict[str, Any] = field(default_factory=dict)
    fallback_engine: str | None = None
    retries: int = 1
    mask_quoted: bool = False
    back_translate: bool = False
    back_translation_threshold: float = 30.0
    cache_path: Path | None = None
    limit: int | None = None
    dedup: bool = True
    """Off only to measure what de-duplication saves (benchmarks/translate_dedup.py)."""
    data_path: str | None = None
    """Where ``data`` is read from when it differs from ``data`` as the user wrote it (which stays in
    provenance and the card): the absolute path recorded in ``translate.json``."""
    ground_images: bool = False
    """Show a vision-language engine each item's image while it translates (image hash in every key)."""

    def to_json(self) -> dict[str, Any]:
        """``translate.json``: paths are absolute or relative to the run folder itself, so a copied or
        moved folder rebuilds itself (``postedit import``), never the folder it was copied from."""
        d = asdict(self)
        d["out_dir"] = "."
        d["cache_path"] = run_file_path(self.cache_path, self.out_dir) if self.cache_path else None
        d["data_path"] = local_path_or_none(self.data_path or self.data)
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any], run_dir: Path | None = None) -> "TranslateSpec":
        """Read ``translate.json`` of the folder ``run_dir`` (relative paths are resolved against it)."""
        data = dict(data)
        base = Path(run_dir) if run_dir is not None else Path(data["out_dir"])
        data["out_dir"] = base
        cache = data.get("cache_path")
        data["cache_path"] = (base / cache if not Path(cache).is_absolute() else Path(cache)) if cache else None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def segments_path(out_dir: Path, language: str) -> Path:
    return out_dir / "segments" / f"{language}.jsonl"


def edits_path(out_dir: Path) -> Path:
    return out_dir / "edits.sqlite"


def _load_source(spec: TranslateSpec) -> tuple[Any, str]:
    rows = load_rows(spec.data_path or spec.data, config=spec.config, split=spec.split, language=None)
    if spec.limit is not None:
        rows = rows.select(range(min(spec.limit, len(rows)))).flatten_indices()
    split = spec.split or (spec.benchmark and _benchmark_split(spec.benchmark)) or "test"
    return rows, split


def _benchmark_split(name: str) -> str:
    from babelvl.benchmarks.registry import get_benchmark

    return get_benchmark(name).split


def _structure_problems(spec: TranslateSpec, rows: Any, language: str) -> list[dict[str, Any]]:
    """Rows the benchmark itself cannot use (answer not fitting the options...), for the report."""
    if not spec.benchmark:
        return []
    from babelvl.benchmarks.base import Rejected
    from babelvl.benchmarks.registry import get_benchmark

    bench = get_benchmark(spec.benchmark, **({"circular": False} if spec.benchmark == "mmbench" else {}))
    return [{"row": r.row, "field": r.field, "reason": r.reason, "language": language}
            for r in bench.iter_items(rows, language, spec.data) if isinstance(r, Rejected)]


def _structure_problems_once(spec: TranslateSpec, rows: Any, out: Path) -> list[dict[str, Any]]:
    """:func:`_structure_problems` of the source, stored next to the output for a local source file that has
    not changed since (it decodes every image, the largest cost of a re-run that is otherwise cached)."""
    source = Path(spec.data_path or spec.data).expanduser()
    if not source.is_file():
        return _structure_problems(spec, rows, spec.source_language)
    stat = source.stat()
    key = hashlib.sha256(json.dumps([__version__, str(source.resolve()), stat.st_size, stat.st_mtime_ns,
                                     spec.benchmark, spec.config, spec.split, spec.limit,
                                     spec.source_language]).encode()).hexdigest()
    path = out / "source_checks.json"
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("key") == key:
            return stored["problems"]
    problems = _structure_problems(spec, rows, spec.source_language)
    write_json_atomic(path, {"key": key, "problems": problems})
    return problems


class _Uncached:
    """Sends every text to the engine, repeats included: only to measure what de-duplication saves."""

    def __init__(self, engine: Any) -> None:
        self.inner, self.hits, self.misses = engine, 0, 0

    def translate(self, texts: list[str], source: LanguagePack, target: LanguagePack, *,
                  variant: int = 0) -> list[str]:
        self.misses += len(texts)
        return self.inner.translate(texts, source, target, variant=variant)

    def stream(self, requests: Any) -> Any:
        from babelvl.translate.base import keyed_stream

        for key, answer in keyed_stream(self.inner.open_window(), requests):
            self.misses += 1
            yield key, answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _engines(spec: TranslateSpec, cache: ResponseCache) -> list[EngineSlot]:
    from babelvl.translate.engines import CachedEngine, load_engine

    slots = []
    for engine_spec in [spec.engine] + ([spec.fallback_engine] if spec.fallback_engine else []):
        engine = load_engine(engine_spec, **spec.engine_options)
        wrapped = CachedEngine(engine, cache) if spec.dedup else _Uncached(engine)
        slots.append(EngineSlot(name=engine_spec, engine=wrapped))
    return slots


class _RowImages:
    """Each row's image bytes and hash, read from the Arrow image column (struct of bytes and path)."""

    def __init__(self, rows: Any, file: str) -> None:
        from datasets import Image

        names = [n for n, f in rows.features.items() if isinstance(f, Image)]
        if not names:
            raise InputError("--ground-images: the data has no image column", file=file)
        table = (rows if rows._indices is None else rows.flatten_indices()).data.table
        self._cells = table.column(names[0]).to_pylist()
        self._file, self._column = file, names[0]

    def get(self, row: int | None) -> bytes | None:
        cell = self._cells[row] if row is not None else None
        if not cell:
            return None
        if cell.get("bytes"):
            return cell["bytes"]
        if cell.get("path"):
            try:
                return Path(cell["path"]).read_bytes()
            except OSError as exc:
                raise InputError(f"image not readable: {exc}", file=self._file, row=row, field=self._column) from exc
        return None

    def hashes(self) -> list[str | None]:
        out = []
        for row in range(len(self._cells)):
            data = self.get(row)
            out.append(hashlib.sha256(data).hexdigest() if data else None)
        return out


def run_translate(spec: TranslateSpec, *, console: Console | None = None) -> dict[str, Any]:
    """Run (or resume, or rebuild after post-edits) a translation; returns a summary dict."""
    from babelvl.translate.checks import SegmentChecker
    from babelvl.translate.edits import EditStore
    from babelvl.translate.langid import LanguageDetector
    from babelvl.translate.quality_report import build_quality_report, write_quality_report

    console = console or ui.console()
    started = time.perf_counter()
    source = load_language(spec.source_language)
    targets = [load_language(code) for code in spec.languages if code != spec.source_language]
    if not targets:
        raise InputError("no target language: --languages lists only the source language")
    field_spec = spec_for(spec.benchmark, spec.fields, spec.options_field)
    out = spec.out_dir
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)  # left by a killed run
    write_json_atomic(out / "translate.json", {"babelvl_version": __version__, **spec.to_json()})

    rows, split = _load_source(spec)
    if spec.benchmark:  # the wrong --benchmark for the data fails before any engine call
        from babelvl.benchmarks.registry import get_benchmark

        bench = get_benchmark(spec.benchmark)
        require_columns(rows, bench.required_columns, file=spec.data, benchmark=bench.name)
    if spec.fields or spec.options_field:  # columns the user named must exist: a typo is not "nothing to do"
        require_named_columns(rows, [f.strip() for f in (spec.fields or "").split(",") if f.strip()],
                              file=spec.data, flag="--fields")
        require_named_columns(rows, [spec.options_field] if spec.options_field else [], file=spec.data,
                              flag="--options-field")
    cache = ResponseCache(spec.cache_path or out / "cache.sqlite")
    slots = _engines(spec, cache)
    images = _RowImages(rows, spec.data) if spec.ground_images else None
    if images is not None and not slots[0].engine.takes_images:
        raise InputError(f"--ground-images needs an engine that sees images (vlm:...), not {spec.engine!r}")
    plan = build_plan(rows, field_spec, source, file=spec.data, mask_quoted=spec.mask_quoted,
                      dedup=spec.dedup, image_hashes=images.hashes() if images is not None else None)
    detector = LanguageDetector([source.code] + [t.code for t in targets])
    checker = SegmentChecker(source, targets, detector=detector)
    edits = EditStore(edits_path(out))
    answers = column_lists(rows, field_spec.answer_words)
    row_problems = [{**p, "language": "all"} for p in plan.problems]

    all_translations: list[SegmentTranslation] = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console) as progress:
        # English (the source language) is written as is, plus provenance columns.
        write_rows(rows, {"babelvl_source_row": list(range(len(rows))),
                          "babelvl_provenance": [json.dumps({"source": spec.data, "source_row": i,
                                                             "language": source.code, "fields": {}})
                                                 for i in range(len(rows))]},
                   out / source.code / f"{split}-00000-of-00001.parquet")
        task = progress.add_task(f"translate {source.code}→{','.join(t.code for t in targets)}",
                                 total=len(plan.units) * len(targets))
        memo = {t.code: _previous_checks(out, source, t) for t in targets}
        by_language = translate_plan(plan, source=source, targets=targets, engines=slots, retries=spec.retries,
                                     checker=checker, edits=edits, image_of=images.get if images else None,
                                     advance=lambda n: progress.advance(task, n), memo=memo)
        progress.update(task, completed=len(plan.units) * len(targets))
        for target in targets:
            translations = by_language[target.code]
            if spec.back_translate:
                _back_translate(translations, slots[0], source, target, spec.back_translation_threshold)
            columns, problems = assemble_columns(plan, field_spec, answers, translations, source=source,
                                                 target=target, source_name=spec.data)
            problems += _option_problems(plan, field_spec, rows, columns, target)
            write_rows(rows, columns, out / target.code / f"{split}-00000-of-00001.parquet")
            _write_segments(out, target.code, translations, plan, memo.get(target.code, {}),
                            checks_fingerprint(source, target))
            all_translations.extend(translations.values())
            row_problems += problems
    for problem in _structure_problems_once(spec, rows, out):
        row_problems.append(problem)

    calls = {slot.name: {"engine_calls": slot.engine.misses, "cache_hits": slot.engine.hits} for slot in slots}
    run_info = {"babelvl_version": __version__, "source": spec.data, "benchmark": spec.benchmark,
                "engines": [{"name": s.name, "identity": s.engine.identity(),
                             "license": s.engine.license, "low_quality": s.engine.low_quality}
                            for s in slots],
                "languages": [t.code for t in targets], "rows": len(rows),
                "segment_occurrences": plan.occurrences, "distinct_segments": len(plan.segments),
                "distinct_units": len(plan.units),
                "units_by_kind": dict(Counter(u.kind for u in plan.units.values())),
                "grounded": bool(images), "run_log": RUN_LOG}
    from babelvl.translate.edits import corpus_hter

    edited = {t.language for t in all_translations if t.edited}  # HTER means nothing before a human edit
    hter = {t.code: _hter_summary(corpus_hter(_final_pairs(all_translations, t.code, plan)))
            for t in targets if t.code in edited}
    report = build_quality_report(all_translations, row_problems=row_problems,
                                  hter={k: v for k, v in hter.items() if v is not None}, run_info=run_info)
    write_quality_report(report, out)
    _write_card(spec, split, source, targets, slots, field_spec, report, hter, out)
    elapsed = time.perf_counter() - started
    # what this run cost differs between an interrupted and a straight run: the run log, not the dataset
    append_run_log(out, "translate", {"calls": calls, "seconds": round(elapsed, 3), "rows": len(rows),
                                      "languages": [t.code for t in targets]})
    summary = {**run_info, "calls": calls, "seconds": elapsed, "row_problems": len(row_problems)}
    total_calls = sum(c["engine_calls"] for c in calls.values())
    console.print(f"[green]done[/green]: {len(rows)} rows, {plan.occurrences} segment occurrences, "
                  f"{len(plan.units)} distinct units ({len(plan.segments)} segments) x {len(targets)} languages, "
                  f"{total_calls} engine calls, {elapsed:.1f}s; output in {out}")
    return summary


def _hter_summary(result: dict[str, Any]) -> dict[str, Any] | None:
    """HTER only means something once a human edited at least one segment."""
    if not result.get("n_edited") or result["hter"] is None:
        return None
    return {k: result[k] for k in ("hter", "n_segments", "n_edited", "n_skipped", "note") if k in result}


def _final_pairs(translations: list[SegmentTranslation], language: str, plan: Plan) -> list[tuple[str, str]]:
    """(machine output, final text) per segment of ``language``, unmasked, for HTER."""
    from babelvl.translate.placeholders import unmask

    pairs = []
    for t in translations:
        if t.language == language:
            values = plan.segment_values[t.segment_id]
            pairs.append((unmask(t.machine_target or t.target, values), unmask(t.target, values)))
    return pairs


def _back_translate(translations: dict[str, SegmentTranslation], slot: EngineSlot, source: LanguagePack,
                    target: LanguagePack, threshold: float) -> None:
    from babelvl.translate.checks import BackTranslationCheck

    items = list(translations.values())
    back = slot.engine.translate([t.target for t in items], target, source, variant=0)
    for t, failures in zip(items, BackTranslationCheck(threshold).check([t.source for t in items], back)):
        t.failures.extend(failures)


def _option_problems(plan: Plan, spec: FieldSpec, rows: Any, columns: dict[str, list[Any]],
                     target: LanguagePack) -> list[dict[str, Any]]:
    from babelvl.translate.checks import check_options_distinct

    if not spec.options:
        return []
    problems = []
    sources = column_lists(rows, spec.options)
    for row in range(len(plan.rows)):
        if len(spec.options) == 1:
            column = spec.options[0]
            src = sources.get(column, [None] * len(plan.rows))[row] or []
            tgt = columns.get(column, [None] * len(plan.rows))[row] or src
        else:
            src = [sources[c][row] for c in spec.options if c in sources and sources[c][row]]
            tgt = [columns[c][row] if columns.get(c) and columns[c][row] is not None else sources[c][row]
                   for c in spec.options if c in sources and sources[c][row]]
        for failure in check_options_distinct(list(src), list(tgt)):
            problems.append({"row": row, "field": ",".join(spec.options), "reason": failure.reason,
                             "check": failure.check, "language": target.code})
    return problems


def _record(t: SegmentTranslation) -> dict[str, Any]:
    """``asdict`` without its deep copies (a segment store has one record per segment and language)."""
    return {**vars(t), "failures": [vars(f) for f in t.failures]}


def _previous_checks(out: Path, source: LanguagePack, target: LanguagePack) -> dict[str, dict[str, list]]:
    """Check outcomes stored by the previous run (same packs and babelvl version), to skip re-checking."""
    from babelvl.translate.base import CheckResult

    path = segments_path(out, target.code)
    if not path.exists():
        return {}
    fingerprint = checks_fingerprint(source, target)
    known: dict[str, dict[str, list]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("checks_fingerprint") != fingerprint:
            continue
        known[record["segment_id"]] = {target_text: [CheckResult(**f) for f in failures]
                                       for target_text, failures in record.get("checked", [])}
    return known


def _write_segments(out: Path, language: str, translations: dict[str, SegmentTranslation], plan: Plan,
                    checked: dict[str, dict[str, list]], fingerprint: str) -> None:
    lines = []
    for t in translations.values():
        record = _record(t)
        record["values"] = list(plan.segment_values[t.segment_id])
        record["checks_fingerprint"] = fingerprint
        record["checked"] = [[text, [vars(f) for f in failures]]
                             for text, failures in checked.get(t.segment_id, {}).items()]
        record["label"] = plan.segment_labels[t.segment_id]
        unit = plan.units[plan.segment_unit[t.segment_id]]
        record["unit_kind"] = unit.kind
        record["unit_labels"] = [label for label, _ in unit.segments]
        lines.append(json.dumps(record, ensure_ascii=False))
    write_atomic(segments_path(out, language), "\n".join(lines) + "\n")


def load_segments(out: Path, language: str) -> tuple[dict[str, SegmentTranslation], dict[str, tuple[str, ...]]]:
    """The segment store of a finished run: translations and each segment's protected spans."""
    from babelvl.translate.base import CheckResult

    path = segments_path(out, language)
    if not path.exists():
        raise InputError(f"no segments for language '{language}': run babelvl translate first", file=str(path))
    translations, values = {}, {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        values[record["segment_id"]] = tuple(record.pop("values"))
        record["failures"] = [CheckResult(**f) for f in record["failures"]]
        record["fields"] = list(record.get("fields") or [])
        known = SegmentTranslation.__dataclass_fields__
        translations[record["segment_id"]] = SegmentTranslation(**{k: v for k, v in record.items() if k in known})
    return translations, values


def _write_card(spec: TranslateSpec, split: str, source: LanguagePack, targets: list[LanguagePack],
                slots: list[EngineSlot], field_spec: FieldSpec, report: dict[str, Any],
                hter: dict[str, Any], out: Path) -> None:
    source_license = ""
    if spec.benchmark:
        from babelvl.benchmarks.registry import get_benchmark

        source_license = get_benchmark(spec.benchmark).license
    roles = ["translation engine"] + ["fallback engine"] * (len(slots) - 1)
    models = [ModelUse(role, s.engine.identity(), s.engine.license, s.engine.low_quality)
              for role, s in zip(roles, slots)]
    fields_md = "\n".join([
        f"- translated: {', '.join(field_spec.columns_to_translate())}",
        f"- never translated: {', '.join(field_spec.keep) or '(all other columns)'}",
        f"- rewritten from language packs: "
        f"{', '.join([f'{c} suffix ({k})' for c, k in field_spec.suffixes.items()] + list(field_spec.answer_words)) or 'none'}",
        "- provenance columns: babelvl_source_row, babelvl_provenance (JSON per row: segments, engines, "
        "prompts and post-edits of each field)",
    ])
    quality = report.get("summary_markdown") or "See quality_report.md."
    post = "\n".join(f"- {lang}: HTER {v['hter']:.3f} over {v['n_segments']} segments, {v['n_edited']} edited"
                     for lang, v in hter.items() if v) or "No post-edits imported yet."
    card = Card(title=f"{spec.benchmark or Path(spec.data).name} in {', '.join([source.code] + [t.code for t in targets])} (babelvl)",
                languages=[source.code] + [t.code for t in targets], split=split, source=spec.data,
                source_license=source_license, models=models,
                created=datetime.now(timezone.utc).strftime("%Y-%m-%d"), babelvl_version=__version__,
                sections=[("Fields", fields_md), ("Quality", quality), ("Post-editing", post)])
    write_atomic(out / "README.md", card.render())
