"""``babelvl export``: a translated set (``babelvl translate`` output) as files other harnesses run.

Input: a folder ``DATA/<lang>/*.parquet`` (with ``DATA/translate.json`` naming the benchmark), a single
language's folder or Parquet file. For each language the benchmark's items are built exactly as ``babelvl eval``
builds them (same ids, same prompt from the language pack, same MMBench circular passes), so the other harness
asks the same questions and its answers can be scored item by item. Source-schema columns pass through;
babelvl's provenance columns (``babelvl_*``) are dropped. Rows that cannot become items are left out and
listed in ``OUT/export.json`` with row, field and reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babelvl.errors import InputError

TARGETS = ("lmms-eval", "vlmevalkit")


@dataclass
class LanguageSet:
    """One benchmark in one language, ready to export: its rows, items and the prompts babelvl sends."""

    benchmark: Any
    language: str
    source: str
    rows: Any
    items: list[Any]
    prompts: list[str]
    rejected: list[dict[str, Any]]


def _benchmark_name(data: Path, benchmark: str | None) -> str:
    if benchmark:
        return benchmark
    for folder in (data, data.parent, data.parent.parent):
        info = folder / "translate.json"
        if info.is_file():
            import json

            name = json.loads(info.read_text(encoding="utf-8")).get("benchmark")
            if name:
                return str(name)
    raise InputError("cannot tell which benchmark this data is (no translate.json with 'benchmark' next to "
                     "it): pass --benchmark", file=str(data), field="benchmark")


def _languages(data: Path, wanted: list[str] | None) -> list[tuple[str, str]]:
    """``(language, source path)`` pairs: one per ``DATA/<lang>/`` folder holding Parquet files."""
    if data.is_dir():
        found = sorted(p.name for p in data.iterdir()
                       if p.is_dir() and not p.name.startswith(".") and any(p.glob("*.parquet")))
        if found:
            chosen = wanted or found
            missing = [code for code in chosen if code not in found]
            if missing:
                raise InputError(f"no {', '.join(missing)} folder with Parquet files (found: {', '.join(found)})",
                                 file=str(data), field="languages")
            return [(code, str(data / code)) for code in chosen]
    if not data.exists():
        raise InputError("no such file or folder", file=str(data))
    if not wanted or len(wanted) != 1:
        raise InputError("a single file or language folder: name its language with --languages (one code)",
                         file=str(data), field="languages")
    return [(wanted[0], str(data))]


def load_language_sets(data: str | Path, *, benchmark: str | None = None,
                       languages: list[str] | None = None) -> list[LanguageSet]:
    """The items of every requested language of a translated set (see module docstring)."""
    from babelvl.benchmarks.base import Item
    from babelvl.benchmarks.registry import get_benchmark
    from babelvl.data.loading import load_rows
    from babelvl.languages import load_language

    data = Path(data)
    bench = get_benchmark(_benchmark_name(data, benchmark))
    out = []
    for language, source in _languages(data, languages):
        pack = load_language(language)
        rows = load_rows(source, language=language)
        items, rejected = [], []
        for obj in bench.iter_items(rows, language, source):
            if isinstance(obj, Item):
                items.append(obj)
            else:
                rejected.append({"row": obj.row, "field": obj.field, "reason": obj.reason, "id": obj.id})
        if not items:
            raise InputError(f"no scorable {bench.name} item in this data", file=source)
        out.append(LanguageSet(bench, language, source, rows, items,
                               [bench.prompt(item, pack) for item in items], rejected))
    return out


def item_rows(lset: LanguageSet) -> Any:
    """One ``datasets.Dataset`` row per item, source columns only (``babelvl_*`` dropped), images decodable.

    MMBench passes that babelvl builds by rotation (data holding only originals) become rows of their own with
    the rotated options, moved answer and the pass's index, as in VLMEvalKit's circular files.
    """
    from datasets import Image

    rows = lset.rows.select([item.row for item in lset.items])
    rows = rows.remove_columns([c for c in rows.column_names if c.startswith("babelvl_")])
    for name, feature in rows.features.items():
        if isinstance(feature, Image) and not feature.decode:
            rows = rows.cast_column(name, Image())
    if lset.benchmark.name == "mmbench":
        from babelvl.benchmarks.mmbench import OPTION_LETTERS

        order = rows.column_names
        overrides: dict[str, list[Any]] = {"index": [int(item.id) for item in lset.items],
                                           "answer": [item.answer for item in lset.items]}
        for letter in OPTION_LETTERS:
            if letter in order:
                overrides[letter] = [item.options.get(letter) for item in lset.items]
        for name, values in overrides.items():
            rows = rows.remove_columns(name).add_column(name, values)
        rows = rows.select_columns(order)
    return rows


def export(data: str | Path, out: str | Path, *, to: str, benchmark: str | None = None,
           languages: list[str] | None = None) -> dict[str, Any]:
    """Write ``to`` files for every language of ``data`` under ``out``; return the manifest (export.json)."""
    from babelvl import __version__
    from babelvl.io.files import write_json_atomic

    if to not in TARGETS:
        raise InputError(f"unknown export target '{to}' (known: {', '.join(TARGETS)})", field="to")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    from babelvl.data.loading import quiet_progress

    for lset in load_language_sets(data, benchmark=benchmark, languages=languages):
        if to == "lmms-eval":
            from babelvl.interop.lmms_eval_task import write_task

            with quiet_progress():
                written = write_task(lset, out)
        else:
            from babelvl.interop.vlmevalkit import write_tsv

            written = write_tsv(lset, out)
        entries.append({"benchmark": lset.benchmark.name, "language": lset.language, "source": lset.source,
                        "items": len(lset.items), "rejected_rows": lset.rejected, **written})
    manifest = {"babelvl_version": __version__, "to": to, "data": str(data), "exports": entries}
    write_json_atomic(out / "export.json", manifest)
    return manifest
