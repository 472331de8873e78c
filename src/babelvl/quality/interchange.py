"""Annotation tools in and out: a sample plan to Label Studio or Argilla, their exports back to
:class:`Annotation` records, and the ``annotations.jsonl`` file everything downstream reads.

Conventions follow the post-editing work files (:mod:`babelvl.translate.postedit`): our item id
travels in ``data.id`` (Label Studio replaces a task's top-level id) and as the Argilla record
``id``; imports are all-or-nothing, every problem collected into one
:class:`~babelvl.translate.postedit.ImportProblemsError` (an ``InputError``) naming the file and
``task[i]`` / ``record[i]`` (0-based index in the JSON list) or ``line N`` (1-based, JSONL).

Label Studio
    Tasks ``{"data": {id, language, group, field, source, target, image?, overlap, annotator |
    annotators}, "predictions": [...]}``; use :func:`labelstudio_config` (generated from the
    protocol) as the labeling interface. Controls are named like the protocol's answers: scales
    become ``Number``, ``Rating`` or ``Choices`` (option ``alias`` = the number), error spans a
    ``Labels`` control on the ``target`` text (severities, or categories plus a per-region
    ``Choices`` named ``<key>_severity``), free text a ``TextArea`` (pre-filled from a prediction
    when the protocol says ``prefill: target``). When the protocol has a missing token it is
    appended to ``target`` (``"... [MISSING]"``); a span on it is imported without position.
    Import reads the JSON export: ``annotations[].result[]``, ``lead_time`` (seconds),
    ``updated_at``; cancelled annotations are skipped, tasks without annotations too.
Argilla
    Record dicts as ``rg.Record.to_dict()`` writes them: ``id``, ``fields`` (``source``,
    ``target``, ``image``?), ``metadata``, ``suggestions``, ``responses``, ``vectors``. Build the
    dataset from :func:`argilla_settings`: integer scales within 0-10 are ``RatingQuestion`` s,
    wider ones (ESA's 0-100) ``TextQuestion`` s holding the number, error spans a
    ``SpanQuestion`` on ``target`` (labels are severities, or ``category:severity``), free text
    ``TextQuestion`` s. Import groups submitted ``responses`` by ``user_id``; draft and
    discarded ones are skipped.

Annotator names: ``users`` maps a tool's identity (Label Studio email, user id or
``labelstudio:<id>``; Argilla ``user_id``) to our name; else a per-annotator export's
``annotator`` is used; else the tool's identity itself.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import asdict, fields as dataclass_fields, MISSING
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

from babelvl.errors import InputError
from babelvl.io.files import write_atomic, write_json_atomic
from babelvl.quality.protocols import Protocol, Scale, load_protocol
from babelvl.quality.schema import Annotation, Assignment, SampleItem
from babelvl.translate.postedit import ImportProblemsError, Problem, _iso_utc, submitted_argilla_responses

log = logging.getLogger(__name__)

SOURCE, TARGET, IMAGE = "source", "target", "image"
PREDICTION_AGENT = "machine translation"
_COLORS = ["#f6c343", "#e8590c", "#c92a2a", "#5c7cfa", "#20c997", "#ae3ec9", "#868e96"]

ItemsArg = Union[Mapping[str, SampleItem], Iterable[SampleItem]]


class AnnotationProblemsError(ImportProblemsError):
    """Every problem found in a set of annotations; raised before anything is read or written."""

    def __init__(self, file: str, problems: Sequence[Problem], *, action: str = "imported") -> None:
        self.problems = list(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        InputError.__init__(self, f"{len(self.problems)} problem(s), nothing was {action}; fix "
                                  f"these and try again:\n{listing}", file=file)


# -- shared helpers ------------------------------------------------------------------------------


def _by_id(items: ItemsArg) -> dict[str, SampleItem]:
    return dict(items) if isinstance(items, Mapping) else {it.item_id: it for it in items}


def _selected(items: ItemsArg, assignments: Sequence[Assignment],
              annotator: str | None) -> list[tuple[SampleItem, list[str]]]:
    """Items to export (all, or one annotator's) with who is assigned each."""
    who: dict[str, list[str]] = {}
    for a in assignments:
        who.setdefault(a.item_id, []).append(a.annotator)
    by_id = _by_id(items)
    unknown = sorted(set(who) - set(by_id))
    if unknown:
        raise InputError(f"assignments name item(s) not in the sample: {', '.join(unknown[:5])}",
                         field="item_id")
    if annotator is not None and not any(annotator in names for names in who.values()):
        raise InputError(f"annotator '{annotator}' has no assigned item", field="annotator")
    return [(it, who.get(it.item_id, [])) for it in by_id.values()
            if annotator is None or annotator in who.get(it.item_id, [])]


def _shown_target(item: SampleItem, protocol: Protocol) -> str:
    token = protocol.spans.missing_token if protocol.spans else None
    return f"{item.target_text} {token}" if token else item.target_text


def _identity_keys(raw: Any) -> list[str]:
    """The ways a user can be named in ``users``: email, id, ``labelstudio:<id>``, the string."""
    if isinstance(raw, dict):
        keys = [raw.get("email"), raw.get("username")]
        if raw.get("id") is not None:
            keys += [str(raw["id"]), f"labelstudio:{raw['id']}"]
        return [k for k in keys if k]
    if raw is None or isinstance(raw, bool) or raw == "":
        return []
    if isinstance(raw, int):
        return [f"labelstudio:{raw}", str(raw)]
    return [str(raw)]


def _annotator(raw: Any, exported_for: Any, users: Mapping[str, str] | None) -> str | None:
    keys = _identity_keys(raw)
    for key in keys:
        if users and key in users:
            return users[key]
    if isinstance(exported_for, str) and exported_for.strip():
        return exported_for.strip()
    return keys[0] if keys else None


def _number(value: Any, scale: Scale) -> Any:
    """A tool's answer as a number: numeric strings and choice labels are mapped back."""
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else value
    if isinstance(value, str):
        text = value.strip()
        for number, label in scale.anchors.items():
            if text == label or text == _choice_text(number, label):
                return number
        try:
            parsed = float(text.replace(",", "."))
        except ValueError:
            return value  # left for validate() to report
        return int(parsed) if parsed.is_integer() else parsed
    return value


def _choice_text(value: Any, label: str) -> str:
    return f"{value} – {label}" if label else str(value)


def _utf16_to_index(text: str, offset: int) -> int:
    """Browsers count UTF-16 code units; Python counts code points (they differ after emoji)."""
    units = 0
    for index, char in enumerate(text):
        if units >= offset:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
    return len(text)


def _span(start: Any, end: Any, text: Any, item: SampleItem, shown: str, extra: dict[str, Any],
          problems: list[str]) -> dict[str, Any]:
    """One span in our form; offsets on the missing token become a span without position.

    ``shown`` is the text the tool displayed. When the tool also sent the selected text and the
    offsets do not select it (even counted in UTF-16), the task's text was not the sample's.
    """
    target = item.target_text
    if isinstance(start, int) and isinstance(end, int):
        if isinstance(text, str) and shown[start:end] != text:
            start16, end16 = _utf16_to_index(shown, start), _utf16_to_index(shown, end)
            if shown[start16:end16] == text:
                start, end = start16, end16
            else:
                problems.append(f"span {start}-{end} selects {shown[start:end]!r} in the sample's "
                                f"translation, but the tool says {text!r} (was the text changed?)")
        if start >= len(target):
            start = end = None
        elif end > len(target):
            end = len(target)
    span: dict[str, Any] = {"start": start, "end": end, **extra}
    if start is not None and isinstance(end, int):
        span["text"] = target[start:end]
    return span


def _sorted_spans(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(spans, key=lambda s: (s.get("start") is None, s.get("start") or 0,
                                        s.get("end") or 0))


class _Collector:
    """Annotations and problems of one file, with the (item, annotator) duplicate check."""

    def __init__(self, name: str, items: dict[str, SampleItem] | None,
                 assignments: Sequence[Assignment] | None,
                 protocols: Sequence[Protocol] = ()) -> None:
        self.name = name
        self.items = items
        self.assigned = {(a.item_id, a.annotator) for a in assignments} if assignments else None
        self.problems: list[Problem] = []
        self.annotations: list[Annotation] = []
        self.seen: dict[tuple[str, str], str] = {}
        self.protocols: dict[str, Protocol | None] = {p.name: p for p in protocols}

    def problem(self, where: str, field: str | None, reason: str) -> None:
        self.problems.append(Problem(self.name, where, field, reason))

    def protocol(self, name: str, where: str) -> Protocol | None:
        if name not in self.protocols:
            try:
                self.protocols[name] = load_protocol(name)
            except InputError as exc:
                self.problem(where, "protocol", exc.reason)
                self.protocols[name] = None
        return self.protocols[name]

    def add(self, where: str, annotation: Annotation, protocol: Protocol | None,
            problems: Sequence[str] = ()) -> None:
        """Check ``annotation`` and keep it; ``problems`` were found while reading it.

        Any problem makes :meth:`result` raise, so nothing is kept from a file with one.
        """
        for reason in problems:
            self.problem(where, "result", reason)
        item = None
        known = bool(annotation.annotator)
        if not known:
            self.problem(where, "annotator", "no annotator: name one, or pass users=")
        if self.items is not None:
            item = self.items.get(annotation.item_id)
            if item is None:
                known = False
                self.problem(where, "item_id", f"unknown item id {annotation.item_id!r}: not in "
                                               "the sample (another plan, or an edited id)")
        key = (annotation.item_id, annotation.annotator)
        if known and key in self.seen:
            self.problem(where, "annotator", f"second annotation of {annotation.item_id} by "
                                             f"{annotation.annotator} (first at {self.seen[key]})")
        elif known:
            self.seen[key] = where
            if self.assigned is not None and key not in self.assigned:
                hint = (" (a Label Studio user id: map ids to annotator names with --users)"
                        if annotation.annotator.startswith("labelstudio:") else "")
                self.problem(where, "annotator", f"{annotation.annotator} was not assigned "
                                                 f"{annotation.item_id}{hint}")
        if protocol is not None:
            for reason in protocol.validate(annotation.values,
                                            target_text=item.target_text if item else None):
                self.problem(where, "values", reason)
        self.annotations.append(annotation)

    def result(self, path: Path, action: str = "imported") -> list[Annotation]:
        if self.problems:
            raise AnnotationProblemsError(str(path), self.problems, action=action)
        return self.annotations


def _load_json_list(path: Path, what: str) -> list[Any]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=str(path)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid UTF-8 JSON ({exc})", file=str(path)) from None
    if not isinstance(data, list):
        raise InputError(f"expected a JSON list of {what}", file=str(path))
    return data


# -- Label Studio --------------------------------------------------------------------------------


def _severity_control(protocol: Protocol) -> str:
    assert protocol.spans is not None
    return f"{protocol.spans.key}_severity"


def labelstudio_config(protocol: Protocol, *, image: bool = True) -> str:
    """The labeling interface XML for ``protocol``'s tasks (``image=False`` without images)."""
    view = ET.Element("View")
    ET.SubElement(view, "Header", value=protocol.title)
    if protocol.instructions:
        ET.SubElement(view, "Header", value=protocol.instructions, size="6")
    if image:
        ET.SubElement(view, "Image", name=IMAGE, value=f"${IMAGE}", maxWidth="480px")
    ET.SubElement(view, "Header", value="Source")
    ET.SubElement(view, "Text", name=SOURCE, value=f"${SOURCE}")
    ET.SubElement(view, "Header", value="Translation")
    spans = protocol.spans
    if spans:
        labels = ET.SubElement(view, "Labels", name=spans.key, toName=TARGET)
        names = spans.categories or spans.severities
        for i, (name, definition) in enumerate(names.items()):
            attrs = {"value": name, "background": _COLORS[i % len(_COLORS)]}
            if definition:
                attrs["hint"] = definition
            ET.SubElement(labels, "Label", attrs)
    ET.SubElement(view, "Text", name=TARGET, value=f"${TARGET}")
    if spans and spans.categories:
        region = ET.SubElement(view, "View", visibleWhen="region-selected")
        ET.SubElement(region, "Header", value="Severity of the selected error", size="6")
        choices = ET.SubElement(region, "Choices", name=_severity_control(protocol), toName=TARGET,
                                perRegion="true", required="true", choice="single-radio",
                                showInline="true")
        for name, definition in spans.severities.items():
            attrs = {"value": name}
            if definition:
                attrs["hint"] = definition
            ET.SubElement(choices, "Choice", attrs)
    for scale in protocol.scales:
        _ls_scale(view, scale)
    for text_field in protocol.fields:
        ET.SubElement(view, "Header", value=text_field.description or text_field.name, size="5")
        attrs = {"name": text_field.name, "toName": TARGET, "maxSubmissions": "1", "rows": "3",
                 "editable": "true"}
        if text_field.prefill:
            attrs["transcription"] = "true"
        if text_field.required:
            attrs["required"] = "true"
        ET.SubElement(view, "TextArea", attrs)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def _ls_scale(view: ET.Element, scale: Scale) -> None:
    ET.SubElement(view, "Header", value=scale.description or scale.name, size="5")
    required = "true" if scale.required else "false"
    widget = scale.widget
    if widget == "rating" and not (scale.min == 1 and scale.step == 1):
        widget = "choices"  # stars always start at 1
    if widget == "number":
        if scale.anchors:
            ET.SubElement(view, "Header", size="6", value="; ".join(
                f"{v}: {label}" for v, label in sorted(scale.anchors.items())))
        ET.SubElement(view, "Number", name=scale.name, toName=TARGET, min=str(scale.values()[0]),
                      max=str(scale.values()[-1]), step=str(scale.step), required=required)
    elif widget == "rating":
        ET.SubElement(view, "Rating", name=scale.name, toName=TARGET,
                      maxRating=str(scale.values()[-1]), required=required)
    else:
        choices = ET.SubElement(view, "Choices", name=scale.name, toName=TARGET,
                                choice="single-radio", showInline="true", required=required)
        for value in reversed(scale.values()):
            ET.SubElement(choices, "Choice", value=_choice_text(value, scale.anchors.get(value, "")),
                          alias=str(value))


def export_labelstudio(items: ItemsArg, assignments: Sequence[Assignment], path: str | Path, *,
                       protocol: Protocol, annotator: str | None = None,
                       image_prefix: str = "") -> int:
    """Write Label Studio tasks (all items, or ``annotator``'s); returns how many.

    ``image_prefix`` is put before each image's relative path, e.g. ``/data/local-files/?d=plan/``
    for Label Studio's local file serving, or the URL where the plan folder is published.
    """
    tasks = []
    for item, who in _selected(items, assignments, annotator):
        data: dict[str, Any] = {"id": item.item_id, "language": item.language, "group": item.group,
                                "field": item.field, SOURCE: item.source_text,
                                TARGET: _shown_target(item, protocol),
                                "overlap": "yes" if item.overlap else "no"}
        if item.image_path:
            data[IMAGE] = image_prefix + item.image_path
        if annotator is not None:
            data["annotator"] = annotator
        else:
            data["annotators"] = ", ".join(who)
        task: dict[str, Any] = {"data": data}
        prefill = [{"from_name": f.name, "to_name": TARGET, "type": "textarea",
                    "value": {"text": [item.target_text]}} for f in protocol.fields if f.prefill]
        if prefill:
            task["predictions"] = [{"model_version": PREDICTION_AGENT, "result": prefill}]
        tasks.append(task)
    write_json_atomic(path, tasks)
    return len(tasks)


def import_labelstudio(path: str | Path, *, items: ItemsArg, protocol: Protocol,
                       assignments: Sequence[Assignment] | None = None,
                       users: Mapping[str, str] | None = None) -> list[Annotation]:
    """Annotations from a Label Studio JSON export, or one error listing every problem.

    With ``assignments``, an answer by someone not assigned the item is a problem too.
    """
    path = Path(path)
    tasks = _load_json_list(path, "tasks")
    by_id = _by_id(items)
    out = _Collector(path.name, by_id, assignments)
    for index, task in enumerate(tasks):
        where = f"task[{index}]"
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict):
            out.problem(where, "data", "not a Label Studio task (no 'data' object)")
            continue
        item_id = data.get("id")
        item = by_id.get(item_id) if isinstance(item_id, str) else None
        annotations = [a for a in task.get("annotations") or []
                       if isinstance(a, dict) and not a.get("was_cancelled")]
        if item is None:
            if annotations:
                out.problem(where, "data.id", f"unknown item id {item_id!r}: not in the sample")
            continue
        for number, annotation in enumerate(annotations):
            here = f"{where} annotations[{number}]"
            values, problems = _ls_values(annotation.get("result") or [], protocol, item)
            seconds = annotation.get("lead_time")
            out.add(here, Annotation(
                item_id=item.item_id,
                annotator=_annotator(annotation.get("completed_by"), data.get("annotator"),
                                     users) or "",
                protocol=protocol.name, values=values,
                seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
                created=_iso_utc(annotation.get("updated_at") or annotation.get("created_at")) or ""),
                protocol, problems)
    return out.result(path)


def _ls_values(results: list[Any], protocol: Protocol,
               item: SampleItem) -> tuple[dict[str, Any], list[str]]:
    scales = {s.name: s for s in protocol.scales}
    text_fields = {f.name for f in protocol.fields}
    spans = protocol.spans
    severity_control = _severity_control(protocol) if spans and spans.categories else None
    values: dict[str, Any] = {}
    regions: list[dict[str, Any]] = []
    severity_of: dict[Any, Any] = {}
    for result in results:
        if not isinstance(result, dict):
            continue
        name, value = result.get("from_name"), result.get("value") or {}
        if name in scales:
            raw = next((value[k] for k in ("number", "rating", "choices", "text") if k in value), None)
            values[name] = _number(raw, scales[name])
        elif name in text_fields:
            text = value.get("text")
            texts = [text] if isinstance(text, str) else [t for t in text or [] if isinstance(t, str)]
            joined = "\n".join(t.strip() for t in texts if t.strip())
            if joined:
                values[name] = joined
        elif spans and name == spans.key:
            regions.append({"id": result.get("id"), **value})
        elif severity_control and name == severity_control:
            severity_of[result.get("id")] = (value.get("choices") or [None])[0]
    problems: list[str] = []
    if spans:
        shown = _shown_target(item, protocol)
        converted = []
        for region in regions:
            label = (region.get("labels") or [None])[0]
            extra = ({"severity": severity_of.get(region.get("id")), "category": label}
                     if spans.categories else {"severity": label})
            converted.append(_span(region.get("start"), region.get("end"), region.get("text"),
                                   item, shown, extra, problems))
        values[spans.key] = _sorted_spans(converted)
    return values, problems


# -- Argilla ---------------------------------------------------------------------------------------


def _span_labels(protocol: Protocol) -> dict[str, str]:
    """Argilla span label value -> text shown."""
    assert protocol.spans is not None
    spans = protocol.spans
    if not spans.categories:
        return {s: s for s in spans.severities}
    return {f"{c}:{s}": f"{c} ({s})" for c in spans.categories for s in spans.severities}


def _is_rating(scale: Scale) -> bool:
    values = scale.values()
    return all(isinstance(v, int) and 0 <= v <= 10 for v in values) and len(values) <= 11


def argilla_settings(protocol: Protocol, *, image: bool = True) -> dict[str, Any]:
    """The dataset settings records of ``protocol`` need, as plain data for ``rg.Settings``.

    ``fields``/``questions`` entries name their Argilla class in ``type`` (text -> TextField or
    TextQuestion, image -> ImageField, rating -> RatingQuestion, span -> SpanQuestion).
    """
    fields: list[dict[str, Any]] = []
    if image:
        fields.append({"name": IMAGE, "type": "image", "required": False})
    fields += [{"name": SOURCE, "type": "text", "required": True, "title": "Source"},
               {"name": TARGET, "type": "text", "required": True, "title": "Translation"}]
    questions: list[dict[str, Any]] = []
    if protocol.spans:
        questions.append({"name": protocol.spans.key, "type": "span", "field": TARGET,
                          "labels": _span_labels(protocol), "allow_overlapping": True,
                          "required": protocol.spans.required,
                          "title": "Mark the errors in the translation"})
    for scale in protocol.scales:
        anchors = "; ".join(f"{v}: {label}" for v, label in sorted(scale.anchors.items()))
        description = " ".join(x for x in (scale.description, anchors) if x)
        if _is_rating(scale):
            questions.append({"name": scale.name, "type": "rating", "values": scale.values(),
                              "required": scale.required, "title": scale.name,
                              "description": description})
        else:
            questions.append({"name": scale.name, "type": "text", "required": scale.required,
                              "title": scale.name, "description":
                              f"A number from {scale.values()[0]} to {scale.values()[-1]}. "
                              + description})
    for text_field in protocol.fields:
        questions.append({"name": text_field.name, "type": "text", "required": text_field.required,
                          "title": text_field.name, "description": text_field.description})
    return {"guidelines": protocol.instructions or protocol.description, "fields": fields,
            "questions": questions,
            "metadata": [{"name": n, "type": "terms"} for n in ("language", "group", "field",
                                                                 "overlap", "annotator")]}


def export_argilla(items: ItemsArg, assignments: Sequence[Assignment], path: str | Path, *,
                   protocol: Protocol, annotator: str | None = None,
                   image_prefix: str = "") -> int:
    """Write Argilla record dicts (all items, or ``annotator``'s); returns how many."""
    records = []
    for item, who in _selected(items, assignments, annotator):
        fields = {SOURCE: item.source_text, TARGET: _shown_target(item, protocol)}
        if item.image_path:
            fields[IMAGE] = image_prefix + item.image_path
        metadata: dict[str, Any] = {"language": item.language, "group": item.group,
                                    "field": item.field, "overlap": "yes" if item.overlap else "no",
                                    "annotator": annotator if annotator is not None else who}
        suggestions = {f.name: {"value": item.target_text, "score": None, "agent": PREDICTION_AGENT}
                       for f in protocol.fields if f.prefill}
        records.append({"id": item.item_id, "fields": fields, "metadata": metadata,
                        "suggestions": suggestions, "responses": {}, "vectors": {}})
    write_json_atomic(path, records)
    return len(records)


def import_argilla(path: str | Path, *, items: ItemsArg, protocol: Protocol,
                   assignments: Sequence[Assignment] | None = None,
                   users: Mapping[str, str] | None = None) -> list[Annotation]:
    """Annotations from Argilla record dicts (one per submitting user and record)."""
    path = Path(path)
    records = _load_json_list(path, "records")
    by_id = _by_id(items)
    out = _Collector(path.name, by_id, assignments)
    for index, record in enumerate(records):
        where = f"record[{index}]"
        if not isinstance(record, dict) or "fields" not in record:
            out.problem(where, "fields", "not an Argilla record (no 'fields')")
            continue
        item_id = record.get("id")
        item = by_id.get(item_id) if isinstance(item_id, str) else None
        per_user = _argilla_responses(record.get("responses") or {}, where)
        if item is None:
            if per_user:
                out.problem(where, "id", f"unknown item id {item_id!r}: not in the sample")
            continue
        exported_for = (record.get("metadata") or {}).get("annotator")
        for user, (answers, updated) in per_user.items():
            out.add(f"{where} user {user or '?'}", Annotation(
                item_id=item.item_id,
                annotator=_annotator(user, exported_for if isinstance(exported_for, str) else None,
                                     users) or "",
                protocol=protocol.name, values=_argilla_values(answers, protocol, item),
                created=_iso_utc(updated) or ""), protocol)
    return out.result(path)


def _argilla_responses(responses: Any, where: str) -> dict[str, tuple[dict[str, Any], Any]]:
    """user -> (question -> value, last update) over submitted responses."""
    per_user: dict[str, tuple[dict[str, Any], Any]] = {}
    if not isinstance(responses, dict):
        return per_user
    for question, answers in responses.items():
        for response in submitted_argilla_responses(answers, where):
            raw_user = response.get("user_id")
            user = "" if raw_user in (None, "None") else str(raw_user)
            answers_of, updated = per_user.get(user, ({}, None))
            answers_of[question] = response.get("value")
            stamp = response.get("updated_at")
            per_user[user] = (answers_of, max(filter(None, [updated, stamp]), default=None))
    return per_user


def _argilla_values(answers: dict[str, Any], protocol: Protocol, item: SampleItem) -> dict[str, Any]:
    scales = {s.name: s for s in protocol.scales}
    text_fields = {f.name for f in protocol.fields}
    spans = protocol.spans
    values: dict[str, Any] = {}
    for name, value in answers.items():
        if name in scales:
            values[name] = _number(value, scales[name])
        elif name in text_fields:
            if isinstance(value, str) and value.strip():
                values[name] = value.strip()
            elif value is not None and not isinstance(value, str):
                values[name] = value  # left for validate() to report
        elif spans and name == spans.key:
            converted = []
            for region in value if isinstance(value, list) else []:
                if not isinstance(region, dict):
                    continue
                label = str(region.get("label", ""))
                if spans.categories:
                    category, _, severity = label.rpartition(":")
                    extra = {"severity": severity or None, "category": category or None}
                else:
                    extra = {"severity": label or None}
                converted.append(_span(region.get("start"), region.get("end"), None, item, "",
                                       extra, []))
            values[name] = _sorted_spans(converted)
        else:
            values[name] = value  # an unknown question: validate() names it
    if spans and spans.key not in values:
        values[spans.key] = []
    return values


# -- annotator names --------------------------------------------------------------------------------


def read_users(path: str | Path) -> dict[str, str]:
    """A ``--users`` file: a JSON object mapping a tool's user identity to an annotator name.

    Keys are what the tool exports: Label Studio's integer ``completed_by`` (as ``"3"`` or
    ``"labelstudio:3"``) or a user's e-mail; Argilla's ``user_id``. Values are the names the plan's
    assignments use.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=str(path)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid UTF-8 JSON ({exc})", file=str(path)) from None
    if not isinstance(data, dict):
        raise InputError('expected a JSON object {"<tool user id>": "<annotator name>", ...}', file=str(path))
    for key, name in data.items():
        if not isinstance(name, str) or not name.strip():
            raise InputError("the annotator name must be non-empty text", file=str(path), field=key)
    return {str(k): v.strip() for k, v in data.items()}


# -- annotations.jsonl -----------------------------------------------------------------------------


_ANNOTATION_FIELDS = {f.name for f in dataclass_fields(Annotation)}
_REQUIRED = {f.name for f in dataclass_fields(Annotation)
             if f.default is MISSING and f.default_factory is MISSING}


def write_annotations(path: str | Path, annotations: Sequence[Annotation], *,
                      items: ItemsArg | None = None) -> int:
    """Check ``annotations`` (protocol answers, duplicates, known items when ``items`` is given),
    then write them as JSONL atomically; returns how many. Nothing is written on a problem."""
    path = Path(path)
    out = _Collector(path.name, _by_id(items) if items is not None else None, None)
    for index, annotation in enumerate(annotations):
        out.add(f"annotation[{index}]", annotation, out.protocol(annotation.protocol,
                                                                f"annotation[{index}]"))
    checked = out.result(path, action="written")
    write_atomic(path, "".join(json.dumps(asdict(a), ensure_ascii=False) + "\n" for a in checked))
    return len(checked)


def read_annotations(path: str | Path, *, items: ItemsArg | None = None,
                     protocols: Sequence[Protocol] = ()) -> list[Annotation]:
    """Read an annotations JSONL file with the same checks as :func:`write_annotations`.

    Each annotation is checked against the protocol it names: one of ``protocols`` (e.g. a YAML
    file the user passed by path, or the one an app project stored), else the protocol of that
    name found by :func:`~babelvl.quality.protocols.load_protocol`.

    A torn *last* line (a crash while appending) is skipped with a warning; a bad line anywhere
    else is a problem.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read annotations ({exc})", file=str(path)) from None
    out = _Collector(path.name, _by_id(items) if items is not None else None, None, protocols)
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for index, line in enumerate(lines):
        where = f"line {index + 1}"
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if index == last:
                log.warning("%s %s: skipping a torn last line (%s)", path, where, exc.msg)
            else:
                out.problem(where, None, f"not valid JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            out.problem(where, None, "not a JSON object")
            continue
        missing = sorted(_REQUIRED - set(record))
        unknown = sorted(set(record) - _ANNOTATION_FIELDS)
        if missing or unknown:
            out.problem(where, ", ".join(missing + unknown),
                        (f"missing {', '.join(missing)}" if missing else "")
                        + ("; " if missing and unknown else "")
                        + (f"unknown {', '.join(unknown)}" if unknown else ""))
            continue
        annotation = Annotation(**record)
        protocol = out.protocol(str(annotation.protocol), where)
        out.add(where, annotation, protocol)
    return out.result(path, action="read")
