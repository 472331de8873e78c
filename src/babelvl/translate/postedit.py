"""Post-editing work files: export machine translations for humans, import their corrections.

One line / task / record per ``(segment, language)``, identified by ``{segment_id}:{language}``,
flagged ones (a failed automatic check) first so reviewers spend their time where it matters.

Editors see *plain* text: the pipeline owner passes ``unmask(segment_id, masked) -> plain`` on
export and ``mask(segment_id, plain) -> masked | None`` on import, so this module never needs to
know how protected spans (numbers, LaTeX, code, URLs) are found.

**Import is all-or-nothing.** Every line is checked first; any problem (unknown or duplicated id,
language or segment mismatch, a protected span the editor removed or changed, an empty submitted
translation, disagreeing annotators, no editor) is collected, and one :class:`ImportProblemsError`
(an :class:`~babelvl.errors.InputError`) lists them all with file, line and field. Nothing is
returned, so nothing gets applied, and the work file is left as it is: the editor fixes those lines
and imports again, so no edit is ever dropped silently. A broken protected span is refused rather
than kept with a warning flag because a translation that lost ``⟦0⟧`` cannot be put back into the
dataset (the number or formula would be gone from the benchmark item).

Formats
-------
``csv``
    UTF-8 with a BOM (Excel then shows accents and ``⟦⟧`` right). Columns: ``id, language,
    flagged, failed_checks, source, machine_translation, current_translation, edited, editor,
    fields, segment_id`` then ``context.<key>`` per context key. The editor fills ``edited`` (and
    optionally ``editor``); an empty ``edited`` cell means "no edit". On import ``,``, ``;`` or tab
    delimiters are accepted (spreadsheets in fr/de/it/es locales save with ``;``).
``jsonl``
    One object per line with the same keys (``failed_checks`` as a list of
    ``{"check", "reason", "severity"}``, ``fields`` a list, ``context`` an object) plus
    ``"edited": ""`` and ``"editor": ""`` to fill in.
``labelstudio``
    A JSON list of tasks in Label Studio's import format, ``{"data": {...}, "predictions": [...]}``,
    the current translation pre-filled as a ``textarea`` prediction result
    (``{"from_name": "translation", "to_name": "source", "type": "textarea",
    "value": {"text": [...]}}``), following https://labelstud.io/guide/predictions and
    https://labelstud.io/tags/textarea. Our id travels in ``data.id`` because Label Studio replaces
    a task's top-level ``id`` with its own (label-studio issues #3509, #7061). Use
    :data:`LABEL_STUDIO_CONFIG` as the project's labeling interface. Import reads Label Studio's
    JSON export (https://labelstud.io/guide/task_format): ``annotations[].result[].value.text``,
    ``completed_by`` (editor) and ``updated_at`` (edit time); cancelled annotations are skipped.
``argilla``
    A JSON list of Argilla 2.x record dicts, the shape of ``rg.Record.to_dict()`` /
    ``dataset.records.to_json()`` (argilla ``src/argilla/records/_resource.py``): ``id`` (ours),
    ``fields`` (``source``, ``machine_translation``, ``failed_checks``), ``metadata``,
    ``suggestions`` (``{"translation": {"value", "score", "agent"}}``), ``responses``, ``vectors``.
    Load with ``dataset.records.log([rg.Record.from_dict(d) for d in records])`` into a dataset
    whose settings have those three ``rg.TextField`` s (``failed_checks`` not required) and an
    ``rg.TextQuestion("translation")``. Import reads the same shape back: submitted
    ``responses["translation"][].value``, editor from ``user_id``; draft and discarded responses are
    skipped.

Where problems are reported: ``line N`` (1-based, as a text editor shows it) for csv/jsonl,
``task[i]`` / ``record[i]`` (0-based index in the JSON list) for Label Studio / Argilla.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

from babelvl.errors import InputError
from babelvl.io.files import write_atomic, write_json_atomic
from babelvl.translate.base import SegmentTranslation
from babelvl.translate.edits import Edit, utc_now

log = logging.getLogger(__name__)

WorkFormat = Literal["csv", "jsonl", "labelstudio", "argilla"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "labelstudio", "argilla")

Unmask = Callable[[str, str], str]
"""(segment_id, masked text) -> plain text, as editors should read it."""
Mask = Callable[[str, str], "str | None"]
"""(segment_id, plain text) -> masked text, or None when a protected span was removed/changed."""
Context = Callable[[str], Mapping[str, Any]]
"""segment_id -> extra columns for reviewers (e.g. an example row id)."""

#: Name of the edited-translation control in Label Studio and of the question in Argilla.
QUESTION = "translation"

#: Label Studio labeling interface for :func:`export_worklist` ``format="labelstudio"`` tasks.
LABEL_STUDIO_CONFIG = """<View>
  <Header value="Source"/>
  <Text name="source" value="$source"/>
  <Header value="Failed automatic checks"/>
  <Text name="failed_checks" value="$failed_checks"/>
  <Header value="Machine translation"/>
  <Text name="machine_translation" value="$machine_translation"/>
  <Header value="Translation (edit, then submit)"/>
  <TextArea name="translation" toName="source" editable="true" transcription="true"
            maxSubmissions="1" rows="3"/>
</View>
"""

_PLACEHOLDER = re.compile(r"⟦\d+⟧")
_CSV_COLUMNS = ["id", "language", "flagged", "failed_checks", "source", "machine_translation",
                "current_translation", "edited", "editor", "fields", "segment_id"]


# -- problems -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one line of a work file."""

    file: str
    where: str
    """``line 3`` (csv/jsonl, 1-based) or ``task[2]`` / ``record[2]`` (0-based JSON index)."""
    field: str | None
    reason: str

    def __str__(self) -> str:
        at = f", field '{self.field}'" if self.field else ""
        return f"{self.file} {self.where}{at}: {self.reason}"


class ImportProblemsError(InputError):
    """Every problem found in a work file; raised before anything is imported."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s), nothing was imported; fix these lines "
                         f"and import the file again:\n{listing}", file=file)


# -- export ---------------------------------------------------------------------------------


def item_id(segment_id: str, language: str) -> str:
    """The id of one (segment, language) in every work file."""
    return f"{segment_id}:{language}"


def machine_text(t: SegmentTranslation) -> str:
    """The engine's output for ``t`` (masked), whether or not a post-edit replaced it."""
    return t.machine_target if t.edited and t.machine_target is not None else t.target


def _checks_text(t: SegmentTranslation) -> str:
    return "; ".join(f"{c.check}: {c.reason}" + (" (warning)" if c.severity == "warning" else "")
                     for c in t.failures)


def _item(t: SegmentTranslation, unmask: Unmask, context: Context | None) -> dict[str, Any]:
    return {
        "id": item_id(t.segment_id, t.language),
        "segment_id": t.segment_id,
        "language": t.language,
        "flagged": bool(t.failures),
        "failed_checks": [{"check": c.check, "reason": c.reason, "severity": c.severity}
                          for c in t.failures],
        "source": unmask(t.segment_id, t.source),
        "machine_translation": unmask(t.segment_id, machine_text(t)),
        "current_translation": unmask(t.segment_id, t.target),
        "fields": list(t.fields),
        "context": dict(context(t.segment_id)) if context else {},
        "_checks_text": _checks_text(t),
        "_engine": t.engine,
    }


def _csv_text(items: list[dict[str, Any]]) -> str:
    context_keys = sorted({k for it in items for k in it["context"]})
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS + [f"context.{k}" for k in context_keys])
    for it in items:
        writer.writerow([it["id"], it["language"], "yes" if it["flagged"] else "no",
                         it["_checks_text"], it["source"], it["machine_translation"],
                         it["current_translation"], "", "", ", ".join(it["fields"]),
                         it["segment_id"]]
                        + [_cell(it["context"].get(k)) for k in context_keys])
    return "\ufeff" + out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _public(it: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in it.items() if not k.startswith("_")}


def _jsonl_text(items: list[dict[str, Any]]) -> str:
    return "".join(json.dumps({**_public(it), "edited": "", "editor": ""}, ensure_ascii=False)
                   + "\n" for it in items)


def _labelstudio_tasks(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tasks = []
    for it in items:
        data = {
            "id": it["id"], "segment_id": it["segment_id"], "language": it["language"],
            "source": it["source"], "machine_translation": it["machine_translation"],
            "current_translation": it["current_translation"],
            "flagged": "yes" if it["flagged"] else "no", "failed_checks": it["_checks_text"],
            "fields": ", ".join(it["fields"]),
            "context": "; ".join(f"{k}: {_cell(v)}" for k, v in it["context"].items()),
        }
        result = {"from_name": QUESTION, "to_name": "source", "type": "textarea",
                  "value": {"text": [it["current_translation"]]}}
        tasks.append({"data": data,
                      "predictions": [{"model_version": it["_engine"], "result": [result]}]})
    return tasks


def _metadata_name(key: str) -> str:
    # Argilla metadata property names are lowercase letters, digits, "_" and "-".
    return re.sub(r"[^a-z0-9_-]+", "_", str(key).lower()).strip("_") or "key"


def _argilla_records(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records = []
    for it in items:
        metadata: dict[str, Any] = {
            "segment_id": it["segment_id"], "language": it["language"],
            "flagged": "yes" if it["flagged"] else "no", "engine": it["_engine"],
        }
        if it["failed_checks"]:
            metadata["failed_checks"] = sorted({c["check"] for c in it["failed_checks"]})
        if it["fields"]:
            metadata["fields"] = list(it["fields"])
        for key, value in it["context"].items():
            if value is not None:
                metadata[f"context_{_metadata_name(key)}"] = (
                    value if isinstance(value, (int, float, str)) and not isinstance(value, bool)
                    else _cell(value))
        records.append({
            "id": it["id"],
            "fields": {"source": it["source"], "machine_translation": it["machine_translation"],
                       "failed_checks": it["_checks_text"] or "none"},
            "metadata": metadata,
            "suggestions": {QUESTION: {"value": it["current_translation"], "score": None,
                                       "agent": it["_engine"]}},
            "responses": {},
            "vectors": {},
        })
    return records


def export_worklist(translations: Sequence[SegmentTranslation], path: str | Path, *,
                    format: WorkFormat, unmask: Unmask,
                    context: Context | None = None) -> int:
    """Write one work item per (segment, language), flagged first then by id, atomically.

    Returns the number of items written. Raises ``ValueError`` for an unknown format or when two
    translations share a (segment, language).
    """
    if format not in FORMATS:
        raise ValueError(f"unknown work file format {format!r}; choose one of {', '.join(FORMATS)}")
    seen: set[str] = set()
    for t in translations:
        key = item_id(t.segment_id, t.language)
        if key in seen:
            raise ValueError(f"two translations for {key}; export each (segment, language) once")
        seen.add(key)
    items = sorted((_item(t, unmask, context) for t in translations),
                   key=lambda it: (not it["flagged"], it["id"]))
    if format == "csv":
        write_atomic(path, _csv_text(items))
    elif format == "jsonl":
        write_atomic(path, _jsonl_text(items))
    elif format == "labelstudio":
        write_json_atomic(path, _labelstudio_tasks(items))
    else:
        write_json_atomic(path, _argilla_records(items))
    return len(items)


# -- import: reading each format into candidates --------------------------------------------


@dataclass
class _Candidate:
    """One line of a work file, read but not yet validated."""

    where: str
    id: Any
    text: str | None
    """Plain edited text; None = no edit on this line."""
    text_field: str
    language: Any = None
    segment_id: Any = None
    editor: str | None = None
    edited_at: str | None = None


@dataclass
class _Read:
    candidates: list[_Candidate] = field(default_factory=list)
    problems: list[tuple[str, str | None, str]] = field(default_factory=list)
    """(where, field, reason) found while parsing."""


def _norm(text: str) -> str:
    """Spreadsheets add CRLF and stray edge whitespace; neither is a translation change."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _read_csv(raw: bytes) -> _Read:
    read = _Read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        read.problems.append(("line 1", None, f"not UTF-8 text ({exc.reason} at byte {exc.start}); "
                                              "save it as 'CSV UTF-8'"))
        return read
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    for candidate in (",", ";", "\t"):
        header = next(csv.reader([first_line], delimiter=candidate), [])
        if {"id", "edited"} <= {h.strip() for h in header}:
            delimiter = candidate
            break
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in ("id", "edited") if c not in header]
    if missing:
        read.problems.append(("line 1", ", ".join(missing),
                              f"header lacks column(s) {', '.join(missing)}"))
        return read
    last_line = reader.line_num
    for row in reader:
        where = f"line {last_line + 1}"
        last_line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            read.problems.append((where, None, f"{len(row)} cells but the header has "
                                               f"{len(header)} (a quote or delimiter problem?)"))
            continue
        cells = dict(zip(header, row + [""] * (len(header) - len(row))))
        edited = _norm(cells["edited"])
        read.candidates.append(_Candidate(
            where=where, id=_blank_to_none(cells["id"]), text=edited or None, text_field="edited",
            language=_blank_to_none(cells.get("language")),
            segment_id=_blank_to_none(cells.get("segment_id")),
            editor=_blank_to_none(cells.get("editor"))))
    return read


def _read_jsonl(raw: bytes) -> _Read:
    read = _Read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        read.problems.append(("line 1", None, f"not UTF-8 text ({exc.reason})"))
        return read
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"line {number}"
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            read.problems.append((where, None, f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(obj, dict):
            read.problems.append((where, None, "not a JSON object"))
            continue
        edited = obj.get("edited")
        if edited is not None and not isinstance(edited, str):
            read.problems.append((where, "edited", "must be a string"))
            continue
        editor = obj.get("editor")
        read.candidates.append(_Candidate(
            where=where, id=_blank_to_none(obj.get("id")),
            text=(_norm(edited) or None) if edited else None, text_field="edited",
            language=_blank_to_none(obj.get("language")),
            segment_id=_blank_to_none(obj.get("segment_id")),
            editor=_blank_to_none(editor) if isinstance(editor, str) else None))
    return read


def _iso_utc(value: Any) -> str | None:
    """Label Studio writes ``2021-03-09T22:16:08.728378Z``; store it as seconds in UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()
            .replace("+00:00", "Z"))


def _ls_editor(completed_by: Any) -> str | None:
    """``completed_by`` is a user id in JSON exports, a user object in some versions."""
    if isinstance(completed_by, dict):
        return (completed_by.get("email") or
                (f"labelstudio:{completed_by['id']}" if "id" in completed_by else None))
    if isinstance(completed_by, bool) or completed_by is None:
        return None
    if isinstance(completed_by, int):
        return f"labelstudio:{completed_by}"
    return str(completed_by) or None


def _pick_one(where: str, field_name: str, answers: list[tuple[str, str | None, str | None]],
              read: _Read) -> tuple[str, str | None, str | None] | None:
    """Several annotators: fine when they agree, a problem when they do not (we never guess)."""
    texts = {text for text, _, _ in answers}
    if len(texts) > 1:
        who = ", ".join(sorted({e or "?" for _, e, _ in answers}))
        read.problems.append((where, field_name, f"{len(answers)} submitted translations disagree "
                                                 f"(by {who}); keep one and export again"))
        return None
    return max(answers, key=lambda a: a[2] or "")


def _read_labelstudio(tasks: list[Any]) -> _Read:
    read = _Read()
    for index, task in enumerate(tasks):
        where = f"task[{index}]"
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict):
            read.problems.append((where, "data", "not a Label Studio task (no 'data' object)"))
            continue
        field_name = "annotations[].result[].value.text"
        answers: list[tuple[str, str | None, str | None]] = []
        broken = False
        for annotation in task.get("annotations") or []:
            if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
                continue
            results = [r for r in annotation.get("result") or []
                       if isinstance(r, dict) and r.get("type") == "textarea"
                       and r.get("from_name", QUESTION) == QUESTION]
            texts: list[str] = []
            for r in results:
                value = (r.get("value") or {}).get("text")
                texts.extend([value] if isinstance(value, str) else
                             [v for v in value if isinstance(v, str)] if isinstance(value, list)
                             else [])
            texts = [_norm(t) for t in texts if _norm(t)]
            if not texts:
                read.problems.append((where, field_name, "a submitted annotation has no text in "
                                                         f"a textarea named '{QUESTION}'"))
                broken = True
                continue
            if len(texts) > 1:
                read.problems.append((where, field_name, f"an annotation holds {len(texts)} texts; "
                                                         "keep exactly one"))
                broken = True
                continue
            answers.append((texts[0], _ls_editor(annotation.get("completed_by")),
                            _iso_utc(annotation.get("updated_at") or annotation.get("created_at"))))
        chosen = None if broken or not answers else _pick_one(where, field_name, answers, read)
        read.candidates.append(_Candidate(
            where=where, id=_blank_to_none(data.get("id")),
            text=chosen[0] if chosen else None, text_field=field_name,
            language=_blank_to_none(data.get("language")),
            segment_id=_blank_to_none(data.get("segment_id")),
            editor=chosen[1] if chosen else None, edited_at=chosen[2] if chosen else None))
    return read


def submitted_argilla_responses(responses: Any, where: str) -> Any:
    """The submitted Argilla responses of one question (drafts are skipped with a warning, discarded ones
    silently). Shared by post-edit imports and the quality-assessment interchange."""
    for response in responses if isinstance(responses, list) else []:
        if not isinstance(response, dict):
            continue
        status = response.get("status", "submitted")
        if status == "submitted":
            yield response
        elif status == "draft":
            log.warning("%s: skipping a draft response (not submitted)", where)


def _read_argilla(records: list[Any]) -> _Read:
    read = _Read()
    field_name = f"responses.{QUESTION}[].value"
    for index, record in enumerate(records):
        where = f"record[{index}]"
        if not isinstance(record, dict) or "fields" not in record:
            read.problems.append((where, "fields", "not an Argilla record (no 'fields')"))
            continue
        metadata = record.get("metadata") or {}
        responses = (record.get("responses") or {}).get(QUESTION) or []
        answers: list[tuple[str, str | None, str | None]] = []
        broken = False
        for response in submitted_argilla_responses(responses, where):
            value = response.get("value")
            if not isinstance(value, str) or not _norm(value):
                read.problems.append((where, field_name, "a submitted response has no "
                                                         "translation text"))
                broken = True
                continue
            user = response.get("user_id")
            answers.append((_norm(value), str(user) if user not in (None, "None") else None,
                            _iso_utc(response.get("updated_at"))))
        chosen = None if broken or not answers else _pick_one(where, field_name, answers, read)
        read.candidates.append(_Candidate(
            where=where, id=_blank_to_none(record.get("id")),
            text=chosen[0] if chosen else None, text_field=field_name,
            language=_blank_to_none(metadata.get("language")),
            segment_id=_blank_to_none(metadata.get("segment_id")),
            editor=chosen[1] if chosen else None, edited_at=chosen[2] if chosen else None))
    return read


def detect_format(path: str | Path, raw: bytes | None = None) -> WorkFormat:
    """Work file format from the extension, and for ``.json`` from the content."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raw = path.read_bytes() if raw is None else raw
    head = raw.decode("utf-8-sig", errors="replace").lstrip()
    if suffix != ".json" and not head.startswith("["):
        return "jsonl" if head.startswith("{") else "csv"
    try:
        data = json.loads(head)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}, line {exc.lineno})", file=str(path)) from None
    if isinstance(data, list):
        first = next((d for d in data if isinstance(d, dict)), None)
        if first is None or "data" in first:
            return "labelstudio"
        if "fields" in first:
            return "argilla"
    raise InputError("neither a Label Studio export (list of tasks with 'data') nor Argilla "
                     "records (list of records with 'fields')", file=str(path))


# -- import: validation ---------------------------------------------------------------------


def import_edits(path: str | Path, *, known: Mapping[str, SegmentTranslation], mask: Mask,
                 default_editor: str | None = None, unmask: Unmask | None = None,
                 format: WorkFormat | None = None, edited_at: str | None = None) -> list[Edit]:
    """Read a filled-in work file and return its edits, or raise one error listing every problem.

    ``known`` maps ``{segment_id}:{language}`` to the current translation (as exported). ``mask``
    turns the editor's plain text back into masked text, or returns None when a protected span was
    removed or changed; ``unmask`` (optional) only makes that error show the spans to keep.
    ``format`` overrides detection; ``edited_at`` (ISO UTC) is used where the file has no time
    (csv, jsonl, Argilla), default now.

    Not returned as edits: lines with no edited text, and texts equal to the machine translation
    (unless that reverts an earlier post-edit, which is returned so the store records the revert).
    """
    path = Path(path)
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=str(path)) from None
    kind = format or detect_format(path, raw)
    if kind not in FORMATS:
        raise ValueError(f"unknown work file format {kind!r}; choose one of {', '.join(FORMATS)}")
    if kind == "csv":
        read = _read_csv(raw)
    elif kind == "jsonl":
        read = _read_jsonl(raw)
    else:
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"not valid UTF-8 JSON ({exc})", file=str(path)) from None
        if not isinstance(data, list):
            what = "tasks" if kind == "labelstudio" else "records"
            raise InputError(f"expected a JSON list of {what}", file=str(path))
        read = _read_labelstudio(data) if kind == "labelstudio" else _read_argilla(data)

    problems = [Problem(name, where, fld, reason) for where, fld, reason in read.problems]
    stamp = edited_at or utc_now()
    edits: list[Edit] = []
    seen: dict[str, str] = {}
    for cand in read.candidates:
        def problem(fld: str | None, reason: str, _where: str = cand.where) -> None:
            problems.append(Problem(name, _where, fld, reason))

        if not isinstance(cand.id, str):
            problem("id", "missing id" if cand.id is None else "id must be a string")
            continue
        key = cand.id
        if key in seen:
            problem("id", f"duplicate id {key} (first at {seen[key]})")
            continue
        seen[key] = cand.where
        t = known.get(key)
        if t is None:
            problem("id", f"unknown id {key}: not in the current translations (wrong project or "
                          "language, or the id was edited)")
            continue
        if cand.language is not None and cand.language != t.language:
            problem("language", f"language is {cand.language!r} but {key} is {t.language!r}")
            continue
        if cand.segment_id is not None and cand.segment_id != t.segment_id:
            problem("segment_id", f"segment_id is {cand.segment_id!r} but {key} has "
                                  f"{t.segment_id!r}")
            continue
        if cand.text is None:
            continue
        masked = mask(t.segment_id, cand.text)
        if masked is not None:
            if Counter(_PLACEHOLDER.findall(masked)) != Counter(_PLACEHOLDER.findall(t.source)):
                masked = None
        if masked is None:
            problem(cand.text_field, _span_reason(t, unmask))
            continue
        machine = machine_text(t)
        if masked == machine and not t.edited:
            continue
        editor = cand.editor or default_editor
        if not editor:
            problem("editor", "no editor: fill the 'editor' column or pass a default editor")
            continue
        edits.append(Edit(segment_id=t.segment_id, language=t.language, text=masked,
                          machine_text=machine, editor=editor,
                          edited_at=cand.edited_at or stamp, source_file=name))
    if problems:
        raise ImportProblemsError(str(path), problems)
    return edits


def _span_reason(t: SegmentTranslation, unmask: Unmask | None) -> str:
    placeholders = list(dict.fromkeys(_PLACEHOLDER.findall(t.source)))
    reason = "a protected span (number, formula, code or URL) was removed or changed"
    if unmask and placeholders:
        spans = ", ".join(repr(unmask(t.segment_id, p)) for p in placeholders)
        reason += f"; keep exactly: {spans}"
    return reason


def known_by_id(translations: Iterable[SegmentTranslation]) -> dict[str, SegmentTranslation]:
    """The ``known`` mapping :func:`import_edits` expects."""
    return {item_id(t.segment_id, t.language): t for t in translations}
