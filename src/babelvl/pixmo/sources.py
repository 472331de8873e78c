"""PixMo-Cap, PixMo-AskModelAnything and CoSyn-400K rows as validated records, with stable ids.

Schemas, as on the Hub dataset cards (``dataset_info`` of each README):

* ``allenai/pixmo-cap`` (default config, split train): ``image_url`` string, ``caption`` string,
  ``transcripts`` list<string> (one or more audio transcripts the caption was written from).
* ``allenai/pixmo-ask-model-anything`` (default config, split train): ``image_url``, ``image_sha256``,
  ``question``, ``answer``, all strings; several rows share an image.
* ``allenai/CoSyn-400K`` (configs chart, chemical, circuit, diagram, document, graphic, math, music,
  nutrition, table; splits train and validation): ``id`` string, ``image`` Image, ``qa_pairs`` a
  ``Sequence`` of {question, explanation, answer} strings (stored as a struct of three lists),
  ``metadata`` struct {figure_type, persona, topic}, ``data`` string, ``code`` string.

PixMo images are URLs to fetch (:mod:`babelvl.pixmo.fetch`); CoSyn images are embedded. A bad row
becomes a :class:`Rejected` naming file, row and field; a missing or mistyped column raises
:class:`InputError` before any row is read, since every row would fail the same way.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

from babelvl.data.images import image_bytes
from babelvl.data.loading import iter_rows, load_rows, require_columns
from babelvl.errors import InputError

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
ID_HEX_CHARS = 16


@dataclass
class SourceRecord:
    """One validated row. ``fields`` holds the text columns, normalised (CoSyn qa_pairs as a list)."""

    source: str
    row: int
    id: str
    """Stable across runs and copies of the data: see each source's ``make_id``."""
    fields: dict[str, Any]
    image_url: str | None = None
    image_sha256: str | None = None
    """Expected sha256 of the image bytes, where the source publishes one (AMA)."""
    image: bytes | None = None
    """Encoded image bytes, for sources that embed images (CoSyn)."""
    file: str = ""
    config: str | None = None


@dataclass
class Rejected:
    """A row that cannot become a record; reported with where and why, never dropped silently."""

    source: str
    row: int
    field: str | None
    reason: str
    file: str = ""
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def stable_id(*parts: str) -> str:
    """Short hex digest of the parts: the same row gets the same id in every run and copy."""
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()
    return digest[:ID_HEX_CHARS]


# --- cell checks: each raises InputError naming the row and field ----------------------------------

def _text(value: Any, *, file: str, row: int, field: str, allow_blank: bool = False) -> str:
    if value is None:
        raise InputError("missing value", file=file, row=row, field=field)
    if not isinstance(value, str):
        raise InputError(f"expected a string, got {type(value).__name__}", file=file, row=row,
                         field=field)
    if not allow_blank and not value.strip():
        raise InputError("empty text", file=file, row=row, field=field)
    return value


def _optional_text(value: Any, *, file: str, row: int, field: str) -> str | None:
    return None if value is None else _text(value, file=file, row=row, field=field, allow_blank=True)


def _url(value: Any, *, file: str, row: int, field: str = "image_url") -> str:
    url = _text(value, file=file, row=row, field=field).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"not an http(s) URL: {url!r}", file=file, row=row, field=field)
    return url


def _sha256(value: Any, *, file: str, row: int, field: str = "image_sha256") -> str:
    digest = _text(value, file=file, row=row, field=field).strip().lower()
    if not SHA256_HEX.match(digest):
        raise InputError(f"not a sha256 hex digest: {value!r}", file=file, row=row, field=field)
    return digest


# --- column type checks -------------------------------------------------------------------------

def _kind(feature: Any) -> str:
    """'string', 'list', 'struct', 'image', 'binary' or the dtype name of a datasets feature."""
    import datasets

    if isinstance(feature, datasets.Image):
        return "image"
    if isinstance(feature, dict):
        return "struct"
    if isinstance(feature, list) or hasattr(feature, "feature"):
        return "list"
    dtype = getattr(feature, "dtype", "")
    if dtype in ("string", "large_string"):
        return "string"
    if dtype in ("binary", "large_binary"):
        return "binary"
    return str(dtype) or type(feature).__name__


def check_column_types(rows: Any, expected: Mapping[str, tuple[str, ...]], *, file: str,
                       source: str) -> None:
    """Raise InputError naming the file and column whose type is not one of ``expected[column]``."""
    features = getattr(rows, "features", None)
    if features is None:
        return
    for name, kinds in expected.items():
        if name in features and _kind(features[name]) not in kinds:
            raise InputError(f"column of type {_kind(features[name])} where {source} has "
                             f"{' or '.join(kinds)}", file=file, field=name)


# --- sources ------------------------------------------------------------------------------------

class Source(ABC):
    """A dataset babelvl builds multilingual data from. Subclasses set attributes and ``_record``."""

    name: str
    hub_id: str
    aliases: tuple[str, ...] = ()
    configs: tuple[str, ...] = ("default",)
    default_config: str | None = None
    splits: tuple[str, ...] = ("train",)
    split: str = "train"
    license: str = ""
    required_columns: tuple[str, ...] = ()
    column_types: dict[str, tuple[str, ...]] = {}
    id_field: str = "image_url"
    """The field reported when an id repeats."""
    id_columns: tuple[str, ...] = ("image_url",)
    """Columns the id is made from (read alone, without images, to find repeated ids)."""

    def iter_records(self, rows: Any, *, file: str, config: str | None = None, row_offset: int = 0,
                     first_rows: Mapping[str, int] | None = None) -> Iterator[SourceRecord | Rejected]:
        """Records in row order; a bad row yields :class:`Rejected`, and so does a repeated id.

        The first row carrying an id owns it; later rows with that id are rejected as duplicates.
        ``row_offset`` numbers rows of a shard as in the whole data, and ``first_rows`` (from
        :meth:`LoadedSource.first_rows`) finds duplicates across shards. Raises :class:`InputError`
        naming the file and column when a required column is missing or has the wrong type.
        """
        require_columns(rows, self.required_columns, file=file, benchmark=self.name)
        check_column_types(rows, self.column_types, file=file, source=self.name)
        seen: dict[str, int] = {}
        for local, values in iter_rows(rows):
            row = row_offset + local
            raw_id = self.id_of(values)
            if raw_id is not None:
                if first_rows is not None:
                    first = first_rows.get(raw_id, row)
                else:
                    first = seen.setdefault(raw_id, row)
                if first != row:
                    yield Rejected(self.name, row, self.id_field,
                                   f"duplicate id {raw_id} (same as row {first})", file=file, id=raw_id)
                    continue
            try:
                record = self._record(values, row=row, file=file)
            except InputError as exc:
                yield Rejected(self.name, row, exc.field, exc.reason, file=file, id=raw_id)
                continue
            record.config = config
            yield record

    @abstractmethod
    def id_of(self, values: Mapping[str, Any]) -> str | None:
        """The row's id from its raw cells, or None when they are too broken to make one."""

    @abstractmethod
    def _record(self, values: dict[str, Any], *, row: int, file: str) -> SourceRecord:
        """One row as a record; raise InputError naming the field when it is bad."""


def _stripped(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


class PixmoCap(Source):
    """Long captions written from annotators' spoken descriptions; images by URL."""

    name = "pixmo-cap"
    hub_id = "allenai/pixmo-cap"
    aliases = ("cap", "pixmo_cap")
    license = ("ODC-BY-1.0 (allenai/pixmo-cap card); captions include Claude output (Anthropic terms); "
               "images are third-party and keep their own licenses")
    required_columns = ("image_url", "caption", "transcripts")
    column_types = {"image_url": ("string",), "caption": ("string",), "transcripts": ("list",)}

    def id_of(self, values: Mapping[str, Any]) -> str | None:
        url = _stripped(values.get("image_url"))
        return stable_id(url) if url else None

    def _record(self, values: dict[str, Any], *, row: int, file: str) -> SourceRecord:
        url = _url(values.get("image_url"), file=file, row=row)
        caption = _text(values.get("caption"), file=file, row=row, field="caption")
        transcripts = values.get("transcripts")
        if transcripts is None or (isinstance(transcripts, (list, tuple)) and not transcripts):
            raise InputError("empty transcripts", file=file, row=row, field="transcripts")
        if not isinstance(transcripts, (list, tuple)):
            raise InputError(f"expected a list of strings, got {type(transcripts).__name__}",
                             file=file, row=row, field="transcripts")
        for number, text in enumerate(transcripts):
            _text(text, file=file, row=row, field=f"transcripts[{number}]")
        return SourceRecord(self.name, row, stable_id(url), {"caption": caption,
                                                             "transcripts": list(transcripts)},
                            image_url=url, file=file)


class PixmoAskModelAnything(Source):
    """Human-written questions with long answers; several rows per image, each with the image's sha256."""

    name = "pixmo-ask-model-anything"
    hub_id = "allenai/pixmo-ask-model-anything"
    aliases = ("ama", "pixmo-ama", "pixmo_ask_model_anything")
    license = ("ODC-BY-1.0 (allenai/pixmo-ask-model-anything card); includes Claude output (Anthropic "
               "terms); images are third-party and keep their own licenses")
    required_columns = ("image_url", "image_sha256", "question", "answer")
    column_types = {name: ("string",) for name in required_columns}
    id_field = "question"
    id_columns = ("image_url", "question")

    def id_of(self, values: Mapping[str, Any]) -> str | None:
        url, question = _stripped(values.get("image_url")), values.get("question")
        return stable_id(url, question) if url and isinstance(question, str) else None

    def _record(self, values: dict[str, Any], *, row: int, file: str) -> SourceRecord:
        url = _url(values.get("image_url"), file=file, row=row)
        digest = _sha256(values.get("image_sha256"), file=file, row=row)
        question = _text(values.get("question"), file=file, row=row, field="question")
        answer = _text(values.get("answer"), file=file, row=row, field="answer")
        return SourceRecord(self.name, row, stable_id(url, question),
                            {"question": question, "answer": answer},
                            image_url=url, image_sha256=digest, file=file)


QA_KEYS = ("question", "explanation", "answer")


def qa_pair_list(value: Any, *, file: str, row: int) -> list[dict[str, str | None]]:
    """CoSyn ``qa_pairs`` (Hub: a struct of three lists; also a list of dicts) as a list of dicts."""
    where = {"file": file, "row": row}
    if isinstance(value, Mapping):
        columns = {key: value.get(key) for key in QA_KEYS}
        for key in ("question", "answer"):
            if not isinstance(columns[key], (list, tuple)):
                raise InputError(f"expected a list under '{key}'", field=f"qa_pairs.{key}", **where)
        if columns["explanation"] is None:
            columns["explanation"] = [None] * len(columns["question"])
        lengths = {key: len(columns[key]) for key in QA_KEYS}
        if len(set(lengths.values())) != 1:
            raise InputError(f"lists of different lengths {lengths}", field="qa_pairs", **where)
        pairs = [dict(zip(QA_KEYS, triple)) for triple in zip(*(columns[k] for k in QA_KEYS))]
    elif isinstance(value, (list, tuple)):
        pairs = []
        for number, pair in enumerate(value):
            if not isinstance(pair, Mapping):
                raise InputError("expected {question, explanation, answer}",
                                 field=f"qa_pairs[{number}]", **where)
            pairs.append({key: pair.get(key) for key in QA_KEYS})
    elif value is None:
        pairs = []
    else:
        raise InputError(f"expected question/answer lists, got {type(value).__name__}",
                         field="qa_pairs", **where)
    if not pairs:
        raise InputError("no question-answer pairs", field="qa_pairs", **where)
    for number, pair in enumerate(pairs):
        for key in ("question", "answer"):
            _text(pair[key], field=f"qa_pairs[{number}].{key}", **where)
        _optional_text(pair["explanation"], field=f"qa_pairs[{number}].explanation", **where)
    return pairs


class CoSyn400K(Source):
    """Synthetic text-rich images rendered from generated code, with generated question-answer pairs."""

    name = "cosyn-400k"
    hub_id = "allenai/CoSyn-400K"
    aliases = ("cosyn", "cosyn400k", "cosyn_400k")
    configs = ("chart", "chemical", "circuit", "diagram", "document", "graphic", "math", "music",
               "nutrition", "table")
    default_config = "chart"
    splits = ("train", "validation")
    license = ("ODC-BY-1.0 (allenai/CoSyn-400K card); images are rendered from Claude-generated code and "
               "questions are GPT-4o-mini output, under those providers' terms")
    required_columns = ("id", "image", "qa_pairs", "metadata", "data", "code")
    column_types = {"id": ("string",), "image": ("image", "struct", "binary"),
                    "qa_pairs": ("struct", "list"), "metadata": ("struct",), "data": ("string",),
                    "code": ("string",)}
    id_field = "id"
    id_columns = ("id",)

    def id_of(self, values: Mapping[str, Any]) -> str | None:
        return _stripped(values.get("id"))

    def _record(self, values: dict[str, Any], *, row: int, file: str) -> SourceRecord:
        item_id = _text(values.get("id"), file=file, row=row, field="id").strip()
        pairs = qa_pair_list(values.get("qa_pairs"), file=file, row=row)
        metadata = values.get("metadata")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, Mapping):
            raise InputError(f"expected {{figure_type, persona, topic}}, got {type(metadata).__name__}",
                             file=file, row=row, field="metadata")
        meta = {key: _optional_text(metadata.get(key), file=file, row=row, field=f"metadata.{key}")
                for key in ("figure_type", "persona", "topic")}
        data = _optional_text(values.get("data"), file=file, row=row, field="data")
        code = _optional_text(values.get("code"), file=file, row=row, field="code")
        image = image_bytes(values.get("image"), file=file, row=row, field="image")
        return SourceRecord(self.name, row, item_id,
                            {"qa_pairs": pairs, "metadata": meta, "data": data, "code": code},
                            image=image, file=file)


# --- registry and loading -------------------------------------------------------------------------

SOURCES: dict[str, Source] = {s.name: s for s in (PixmoCap(), PixmoAskModelAnything(), CoSyn400K())}


def get_source(name: str) -> Source:
    """A source by name, alias ("cap", "ama", "cosyn") or Hub id; InputError lists the known ones."""
    wanted = name.strip()
    for source in SOURCES.values():
        if wanted.lower() in (source.name, source.hub_id.lower(), *source.aliases):
            return source
    known = ", ".join(f"{s.name} ({'/'.join(s.aliases)})" for s in SOURCES.values())
    raise InputError(f"unknown source {name!r}; known sources: {known}")


@dataclass
class LoadedSource:
    """Rows of one source (memory-mapped Arrow, images undecoded) and how to turn them into records.

    Iterating yields :class:`SourceRecord` and :class:`Rejected` lazily, so a 400K-row set with
    embedded images never sits in memory; :meth:`collect` is for small sets and tests.
    """

    source: Source
    rows: Any
    file: str
    config: str | None
    split: str | None
    limit: int | None = None
    _first_rows: dict[str, int] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[SourceRecord | Rejected]:
        return self.source.iter_records(self.rows, file=self.file, config=self.config)

    def first_rows(self) -> dict[str, int]:
        """id -> first row carrying it, over all rows, reading only the id columns (cached)."""
        if self._first_rows is None:
            columns = self.source.id_columns
            rows = self.rows
            if hasattr(rows, "select_columns"):
                rows = rows.select_columns(list(columns))
            first: dict[str, int] = {}
            for row, values in iter_rows(rows):
                raw_id = self.source.id_of(values)
                if raw_id is not None:
                    first.setdefault(raw_id, row)
            self._first_rows = first
        return self._first_rows

    def iter_range(self, start: int, stop: int) -> Iterator[SourceRecord | Rejected]:
        """Rows ``start:stop`` (a shard), numbered and de-duplicated exactly as a full pass would."""
        stop = min(stop, len(self.rows))
        rows = self.rows.select(range(start, stop)) if hasattr(self.rows, "select") else self.rows[start:stop]
        return self.source.iter_records(rows, file=self.file, config=self.config, row_offset=start,
                                        first_rows=self.first_rows())

    def collect(self) -> tuple[list[SourceRecord], list[Rejected]]:
        records: list[SourceRecord] = []
        rejected: list[Rejected] = []
        for obj in self:
            (rejected if isinstance(obj, Rejected) else records).append(obj)
        return records, rejected


def load_source(name: str, data: str | None = None, *, config: str | None = None,
                split: str | None = None, limit: int | None = None) -> LoadedSource:
    """Load a source's rows from ``data`` (Hub id, Parquet file or folder, saved dataset) or its Hub set.

    ``config`` and ``split`` default to the source's (CoSyn: chart, train); ``limit`` keeps the first
    rows. Columns are checked here, so a wrong file fails before any work is done.
    """
    source = get_source(name)
    if config is not None and config not in source.configs:
        raise InputError(f"unknown config {config!r} for {source.name}; configs: "
                         f"{', '.join(source.configs)}", file=data or source.hub_id)
    if split is not None and split not in source.splits:
        raise InputError(f"unknown split {split!r} for {source.name}; splits: {', '.join(source.splits)}",
                         file=data or source.hub_id)
    if limit is not None and limit < 0:
        raise InputError(f"limit must be >= 0, got {limit}")
    where = data or source.hub_id
    config = config or source.default_config
    split = split or source.split
    rows = load_rows(where, config=config, split=split)
    if limit is not None and limit < len(rows):
        rows = rows.select(range(limit))
    require_columns(rows, source.required_columns, file=where, benchmark=source.name)
    check_column_types(rows, source.column_types, file=where, source=source.name)
    return LoadedSource(source, rows, where, config, split, limit)
