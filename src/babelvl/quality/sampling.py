"""Draw what humans judge: a stratified, seeded sample of translated fields, split among annotators.

Input: babelvl dataset folders as ``babelvl translate`` writes them (``translate.json``, one
subfolder per language incl. the source language, rows carrying ``babelvl_source_row``). Every
(target-language row, translated field) is one candidate :class:`SampleItem`, paired with the
source row it was translated from. Fields a row left empty, or that its ``babelvl_provenance``
says were not translated, are not candidates.

Stratified sampling by (language, group), group = the benchmark named in ``translate.json`` (else
the folder name), so every language and benchmark is judged and none crowds out the others.

Allocation (proportional, largest remainder, exact fractions): stratum h with N_h of the N
candidates gets q_h = size * N_h / N; first floor(q_h); the seats left go one each to the largest
remainders q_h - floor(q_h) (ties: strata in (language, group) order). Then every stratum still
at 0 gets 1, taken from the stratum most above its quota (largest a_h - q_h with a_h > 1; ties: the
later stratum). So a plan has at least one item per non-empty stratum, which needs size >= the
number of strata. Within a stratum items are drawn with ``random.Random(f"{seed}:{language}:{group}")``
from the candidates in file order, so adding a dataset leaves the other strata's draw unchanged.

Overlap: round-half-up(overlap * size) items (at least 1 when overlap > 0), spread over the strata
with the same allocation (at least 1 per stratum when there are enough), are seen by *every*
annotator, for agreement statistics. The rest go to one annotator each, dealt round-robin in
stratum order, so every annotator's load (and share of each stratum) differs by at most one.

Output in ``out_dir``: ``items.jsonl`` (SampleItem per line), ``assignments.jsonl`` (Assignment per
line), ``images/<sha256[:16]>.<ext>`` (each distinct image once, original bytes, referenced by
relative path) and ``plan.json``. The same inputs and seed give byte-identical files (there is no
timestamp); images left by an earlier plan in the same folder are not deleted.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
from dataclasses import MISSING, asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from babelvl import __version__
from babelvl.errors import InputError
from babelvl.io.files import write_atomic, write_json_atomic
from babelvl.quality.schema import Assignment, SampleItem

RUN_SPEC = "translate.json"
ITEMS_FILE = "items.jsonl"
ASSIGNMENTS_FILE = "assignments.jsonl"
PLAN_FILE = "plan.json"
IMAGES_DIR = "images"


@dataclass(frozen=True)
class StratumCount:
    language: str
    group: str
    population: int
    sample: int
    overlap: int


@dataclass
class PlanSummary:
    """What :func:`plan_sample` wrote, for the CLI to print."""

    out_dir: Path
    seed: int
    population: int
    size: int
    overlap_items: int
    strata: list[StratumCount]
    per_annotator: dict[str, int]
    images: int = 0


@dataclass
class _Dataset:
    """One input folder, as its run spec describes it."""

    path: Path
    name: str
    group: str
    source_language: str
    languages: list[str]
    fields: list[str]


@dataclass
class _Candidate:
    """One (row, field) that could be sampled; image read only if it is."""

    dataset: _Dataset
    language: str
    row: int
    source_row: int
    field: str
    field_rank: int
    source_text: str
    target_text: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def item_id(self) -> str:
        return f"{self.dataset.name}:{self.language}:{self.row}:{self.field}"

    @property
    def order(self) -> tuple[str, int, int]:
        return (self.dataset.name, self.row, self.field_rank)


# -- public API --------------------------------------------------------------------------------


def plan_sample(datasets: Sequence[str | Path], *, annotators: Sequence[str], size: int,
                overlap: float, seed: int, languages: Sequence[str] | None = None,
                fields: Sequence[str] | None = None, out_dir: Path) -> PlanSummary:
    """Sample ``size`` items from ``datasets``, assign them to ``annotators``, write the plan.

    ``languages`` / ``fields`` narrow the candidates (default: every target language and every
    translated field). Raises :class:`InputError` naming the folder or field for unusable input.
    """
    annotators = _check_parameters(datasets, annotators, size, overlap)
    specs = _read_datasets(datasets)
    specs = _narrow(specs, languages, fields)
    population = [c for spec in specs for c in _candidates(spec)]
    strata = _group_by_stratum(population)
    if not population:
        raise InputError("no translated text to sample in these datasets (languages: "
                         f"{', '.join(languages) if languages else 'all'}, fields: "
                         f"{', '.join(fields) if fields else 'all'})", file=str(specs[0].path))
    if size > len(population):
        raise InputError(f"size {size} is larger than the population of {len(population)} "
                         "translated fields", field="size")
    if size < len(strata):
        raise InputError(f"size {size} is smaller than the {len(strata)} (language, group) strata; "
                         "every stratum needs at least one item", field="size")

    counts = allocate({k: len(v) for k, v in strata.items()}, size, min_one=True)
    sample: dict[tuple[str, str], list[_Candidate]] = {}
    for key, members in strata.items():
        rng = random.Random(f"{seed}:{key[0]}:{key[1]}")
        sample[key] = rng.sample(sorted(members, key=lambda c: c.order), counts[key])

    n_overlap = overlap_count(overlap, size)
    overlap_ids = _pick_overlap(sample, n_overlap, seed)
    out_dir = Path(out_dir)
    items, assignments = _assign(sample, overlap_ids, annotators)
    images = _write_images(items, sample, out_dir)
    by_stratum = [StratumCount(key[0], key[1], len(strata[key]), counts[key],
                               sum(1 for c in sample[key] if c.item_id in overlap_ids))
                  for key in strata]
    per_annotator = {a: sum(1 for x in assignments if x.annotator == a) for a in annotators}

    write_atomic(out_dir / ITEMS_FILE, _jsonl(it.to_json() for it in items))
    write_atomic(out_dir / ASSIGNMENTS_FILE, _jsonl(asdict(a) for a in assignments))
    write_json_atomic(out_dir / PLAN_FILE, {
        "babelvl_version": __version__,
        "seed": seed, "size": size, "overlap": overlap, "overlap_items": n_overlap,
        "population": len(population), "annotators": list(annotators),
        "languages": list(languages) if languages else None,
        "fields": list(fields) if fields else None,
        "datasets": [{"name": s.name, "path": str(s.path), "group": s.group,
                      "source_language": s.source_language, "languages": s.languages,
                      "fields": s.fields} for s in specs],
        "allocation": ("stratified by (language, group); proportional allocation by largest "
                       "remainder, at least 1 per non-empty stratum; overlap items spread over "
                       "strata the same way and seen by every annotator; the rest dealt "
                       "round-robin (see babelvl.quality.sampling)"),
        "strata": [asdict(s) for s in by_stratum],
        "per_annotator": per_annotator,
        "images": images,
        "files": {"items": ITEMS_FILE, "assignments": ASSIGNMENTS_FILE, "images": IMAGES_DIR + "/"},
    })
    return PlanSummary(out_dir=out_dir, seed=seed, population=len(population), size=size,
                       overlap_items=n_overlap, strata=by_stratum, per_annotator=per_annotator,
                       images=images)


def load_plan(plan_dir: str | Path) -> tuple[list[SampleItem], list[Assignment]]:
    """Read ``items.jsonl`` and ``assignments.jsonl`` back; errors name the file and line."""
    plan_dir = Path(plan_dir)
    items = [SampleItem(**record) for record in _read_records(plan_dir / ITEMS_FILE, SampleItem)]
    assignments = [Assignment(**r) for r in _read_records(plan_dir / ASSIGNMENTS_FILE, Assignment)]
    known = {it.item_id for it in items}
    for number, a in enumerate(assignments, start=1):
        if a.item_id not in known:
            raise InputError(f"record {number}: assignment of unknown item {a.item_id}",
                             file=str(plan_dir / ASSIGNMENTS_FILE), field="item_id")
    return items, assignments


def allocate(populations: Mapping[Any, int], n: int, *, min_one: bool) -> dict[Any, int]:
    """Split ``n`` over strata in proportion to ``populations`` (see the module docstring).

    Keys keep their mapping order, which breaks ties. Every result is <= its population.
    """
    total = sum(populations.values())
    if n > total:
        raise ValueError(f"cannot draw {n} from {total}")
    keys = [k for k, v in populations.items() if v > 0]
    if total == 0:
        return {k: 0 for k in populations}
    quota = {k: Fraction(n * populations[k], total) for k in keys}
    counts = {k: math.floor(quota[k]) for k in keys}
    left = n - sum(counts.values())
    for k in sorted(keys, key=lambda k: (-(quota[k] - counts[k]), keys.index(k)))[:left]:
        counts[k] += 1
    if min_one:
        if n < len(keys):
            raise ValueError(f"cannot give each of {len(keys)} strata one of {n}")
        for k in keys:
            if counts[k] == 0:
                donor = max((d for d in keys if counts[d] > 1),
                            key=lambda d: (counts[d] - quota[d], keys.index(d)))
                counts[donor] -= 1
                counts[k] = 1
    return {k: counts.get(k, 0) for k in populations}


def overlap_count(overlap: float, size: int) -> int:
    """Round half up, at least one overlap item when ``overlap`` > 0."""
    if overlap <= 0:
        return 0
    return min(size, max(1, math.floor(overlap * size + 0.5 + 1e-9)))


# -- checking inputs ---------------------------------------------------------------------------


def _check_parameters(datasets: Sequence[str | Path], annotators: Sequence[str], size: int,
                      overlap: float) -> list[str]:
    if isinstance(datasets, (str, Path)) or not datasets:
        raise InputError("give one or more dataset folders (a list)", field="datasets")
    if isinstance(annotators, str):
        raise InputError("annotators must be a list of names, not one string", field="annotators")
    names = [str(a).strip() for a in annotators]
    if not names or any(not n for n in names):
        raise InputError("give at least one annotator, each a non-empty name", field="annotators")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(f"annotator(s) listed twice: {', '.join(duplicated)}", field="annotators")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InputError(f"size must be a whole number >= 1, got {size!r}", field="size")
    if isinstance(overlap, bool) or not isinstance(overlap, (int, float)) \
            or not 0 <= overlap <= 1:
        raise InputError(f"overlap must be a share between 0 and 1, got {overlap!r}",
                         field="overlap")
    if overlap > 0 and len(names) < 2:
        raise InputError("overlap items are for agreement between annotators: give at least 2 "
                         "annotators, or overlap 0", field="annotators")
    return names


def _read_datasets(paths: Sequence[str | Path]) -> list[_Dataset]:
    specs = [_read_dataset(Path(p)) for p in paths]
    names = [s.name for s in specs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(f"two dataset folders are named '{duplicated[0]}'; item ids start with the "
                         "folder name, so rename one", file=str(specs[names.index(duplicated[0])].path))
    return specs


def _read_dataset(path: Path) -> _Dataset:
    from babelvl.translate.specs import spec_for

    if not path.is_dir():
        raise InputError("not a folder (expected a babelvl dataset folder)", file=str(path))
    spec_path = path / RUN_SPEC
    if not spec_path.is_file():
        raise InputError(f"no {RUN_SPEC}: not a babelvl translated dataset folder", file=str(path))
    try:
        run = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=str(spec_path)) from None
    if not isinstance(run, dict):
        raise InputError("must be a JSON object", file=str(spec_path))
    source = run.get("source_language") or "en"
    listed = run.get("languages")
    if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
        raise InputError("'languages' must be a list of language codes", file=str(spec_path),
                         field="languages")
    targets = [code for code in listed if code != source]
    missing = [code for code in [source, *targets] if not (path / code).is_dir()]
    if missing or not targets:
        raise InputError(f"no language subfolder(s) {', '.join(missing) or '(no target language)'}; "
                         f"expected {', '.join([source, *targets])} next to {RUN_SPEC}",
                         file=str(path))
    fields = run.get("fields")
    if isinstance(fields, list):
        fields = ",".join(str(f) for f in fields)
    try:
        columns = list(spec_for(run.get("benchmark"), fields, run.get("options_field"))
                       .columns_to_translate())
    except InputError as exc:
        raise InputError(f"cannot tell which columns were translated: {exc.reason}",
                         file=str(spec_path), field="benchmark") from None
    return _Dataset(path=path, name=path.resolve().name, group=run.get("benchmark") or path.resolve().name,
                    source_language=source, languages=targets, fields=columns)


def _narrow(specs: list[_Dataset], languages: Sequence[str] | None,
            fields: Sequence[str] | None) -> list[_Dataset]:
    if languages is not None:
        wanted = list(languages)
        for code in wanted:
            if not any(code in s.languages for s in specs):
                raise InputError(f"language '{code}' is not a target language of any dataset "
                                 f"(they have: {', '.join(sorted({c for s in specs for c in s.languages}))})",
                                 file=str(specs[0].path), field="languages")
        for s in specs:
            s.languages = [c for c in s.languages if c in wanted]
    if fields is not None:
        for name in fields:
            if not any(name in s.fields for s in specs):
                raise InputError(f"field '{name}' is not translated in any dataset (translated: "
                                 f"{', '.join(sorted({f for s in specs for f in s.fields}))})",
                                 file=str(specs[0].path), field=name)
        for s in specs:
            s.fields = [f for f in s.fields if f in fields]
    return specs


# -- candidates --------------------------------------------------------------------------------


def _load(spec: _Dataset, language: str) -> Any:
    from babelvl.data.loading import load_rows

    return load_rows(str(spec.path), language=language)


def _columns(rows: Any, names: Iterable[str]) -> dict[str, list[Any]]:
    present = [n for n in names if n in rows.column_names]
    return rows.select_columns(present).to_dict() if present else {}


def _text(value: Any) -> str | None:
    """A field's text: lists (options, choices) one element per line; blank -> None."""
    if isinstance(value, (list, tuple)):
        parts = [str(v) for v in value if v is not None and str(v).strip()]
        value = "\n".join(parts)
    if not isinstance(value, str) or not value.strip():
        return None
    return value


def _candidates(spec: _Dataset) -> list[_Candidate]:
    source_rows = _load(spec, spec.source_language)
    source_cols = _columns(source_rows, spec.fields + ["babelvl_source_row"])
    source_ids = source_cols.get("babelvl_source_row") or list(range(len(source_rows)))
    by_source_row = {sid: i for i, sid in enumerate(source_ids)}
    out: list[_Candidate] = []
    for language in spec.languages:
        rows = _load(spec, language)
        where = str(spec.path / language)
        if "babelvl_source_row" not in rows.column_names:
            raise InputError("no babelvl_source_row column: cannot pair rows with the source "
                             "language", file=where, field="babelvl_source_row")
        cols = _columns(rows, spec.fields + ["babelvl_source_row", "babelvl_provenance"])
        provenance = cols.get("babelvl_provenance") or [None] * len(rows)
        for row, source_row in enumerate(cols["babelvl_source_row"]):
            if source_row not in by_source_row:
                raise InputError(f"babelvl_source_row {source_row} is not a row of the "
                                 f"'{spec.source_language}' data", file=where, row=row,
                                 field="babelvl_source_row")
            src_index = by_source_row[source_row]
            info = _provenance_fields(provenance[row])
            for rank, name in enumerate(spec.fields):
                if name not in cols:
                    continue
                if info is not None and not (info.get(name) or {}).get("segments"):
                    continue  # not translated in this row (empty, or kept as is)
                target = _text(cols[name][row])
                source = _text(source_cols.get(name, [None] * len(source_rows))[src_index])
                if target is None or source is None:
                    continue
                meta: dict[str, Any] = {"dataset": spec.name, "row": row, "source_row": source_row}
                if info is not None:
                    meta.update({"engines": info[name].get("engines", []),
                                 "edited": bool(info[name].get("edited")),
                                 "flagged": bool(info[name].get("flagged"))})
                out.append(_Candidate(spec, language, row, src_index, name, rank, source, target,
                                      meta))
    return out


def _provenance_fields(raw: Any) -> dict[str, Any] | None:
    """Per-field provenance of one row, or None when the row carries none."""
    if not isinstance(raw, str):
        return None
    try:
        fields = json.loads(raw).get("fields")
    except (json.JSONDecodeError, AttributeError):
        return None
    return fields if isinstance(fields, dict) else None


def _group_by_stratum(population: list[_Candidate]) -> dict[tuple[str, str], list[_Candidate]]:
    strata: dict[tuple[str, str], list[_Candidate]] = {}
    for c in population:
        strata.setdefault((c.language, c.dataset.group), []).append(c)
    return dict(sorted(strata.items()))


# -- overlap and assignment --------------------------------------------------------------------


def _pick_overlap(sample: dict[tuple[str, str], list[_Candidate]], n: int, seed: int) -> set[str]:
    if n == 0:
        return set()
    counts = allocate({k: len(v) for k, v in sample.items()}, n, min_one=n >= len(sample))
    chosen: set[str] = set()
    for key, members in sample.items():
        rng = random.Random(f"{seed}:overlap:{key[0]}:{key[1]}")
        chosen.update(c.item_id for c in rng.sample(members, counts[key]))
    return chosen


def _assign(sample: dict[tuple[str, str], list[_Candidate]], overlap_ids: set[str],
            annotators: list[str]) -> tuple[list[SampleItem], list[Assignment]]:
    items: list[SampleItem] = []
    assignments: list[Assignment] = []
    turn = 0
    for members in sample.values():
        for c in members:  # drawn order: dealing it spreads each stratum over annotators
            if c.item_id in overlap_ids:
                assignments += [Assignment(c.item_id, a) for a in annotators]
            else:
                assignments.append(Assignment(c.item_id, annotators[turn % len(annotators)]))
                turn += 1
        for c in sorted(members, key=lambda c: c.order):
            items.append(SampleItem(item_id=c.item_id, language=c.language, group=c.dataset.group,
                                    field=c.field, source_text=c.source_text,
                                    target_text=c.target_text,
                                    overlap=c.item_id in overlap_ids, meta=dict(c.meta)))
    order = {it.item_id: i for i, it in enumerate(items)}
    assignments.sort(key=lambda a: (order[a.item_id], annotators.index(a.annotator)))
    return items, assignments


# -- images ------------------------------------------------------------------------------------


def _write_images(items: list[SampleItem], sample: dict[tuple[str, str], list[_Candidate]],
                  out_dir: Path) -> int:
    """Write each sampled row's image once, named by content; set ``image_path`` on the items."""
    wanted: dict[tuple[str, str], dict[int, list[SampleItem]]] = {}
    by_id = {it.item_id: it for it in items}
    specs: dict[str, _Dataset] = {}
    for members in sample.values():
        for c in members:
            specs[c.dataset.name] = c.dataset
            wanted.setdefault((c.dataset.name, c.language), {}).setdefault(c.row, []).append(
                by_id[c.item_id])
    written: set[str] = set()
    for (name, language), rows_wanted in sorted(wanted.items()):
        rows = _load(specs[name], language)
        column = _image_column(rows)
        if column is None:
            continue
        indices = sorted(rows_wanted)
        values = rows.select_columns([column]).select(indices)[column]
        for index, value in zip(indices, values, strict=True):
            data = _image_bytes(value, specs[name].path)
            if data is None:
                continue
            relative = f"{IMAGES_DIR}/{hashlib.sha256(data).hexdigest()[:16]}.{_extension(data)}"
            if relative not in written:
                target = out_dir / relative
                if not target.is_file() or target.read_bytes() != data:
                    write_atomic(target, data)
                written.add(relative)
            for item in rows_wanted[index]:
                item.image_path = relative
    return len(written)


def _image_column(rows: Any) -> str | None:
    import datasets

    for name, feature in rows.features.items():
        inner = feature[0] if isinstance(feature, list) and feature else getattr(feature, "feature", feature)
        if isinstance(feature, datasets.Image) or isinstance(inner, datasets.Image):
            return name
    return None


def _image_bytes(value: Any, folder: Path) -> bytes | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, dict):
        return None
    if value.get("bytes"):
        return bytes(value["bytes"])
    path = value.get("path")
    if path:
        for candidate in (Path(path), folder / path):
            if candidate.is_file():
                return candidate.read_bytes()
    return None


def _extension(data: bytes) -> str:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = (image.format or "").lower()
    except (UnidentifiedImageError, OSError):
        return "bin"
    return {"jpeg": "jpg", "": "bin"}.get(kind, kind)


# -- files -------------------------------------------------------------------------------------


def _jsonl(records: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)


def _read_records(path: Path, kind: type) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InputError("missing: not a sample plan folder (run plan_sample first)", file=str(path))
    allowed = set(kind.__dataclass_fields__)
    required = {name for name, f in kind.__dataclass_fields__.items()
                if f.default is MISSING and f.default_factory is MISSING}
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {number}: not valid JSON ({exc.msg})", file=str(path)) from None
        if not isinstance(record, dict) or not required <= set(record) <= allowed:
            raise InputError(f"line {number}: not a {kind.__name__} record (keys: "
                             f"{', '.join(sorted(allowed))})", file=str(path))
        records.append(record)
    return records
