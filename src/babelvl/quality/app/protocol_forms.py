"""The app's side of a protocol: which protocol a project uses, how its form looks, and how a
submitted form becomes the ``values`` of an :class:`~babelvl.quality.schema.Annotation`.

There is one definition of a protocol: the YAML file read by :mod:`babelvl.quality.protocols`
(shipped, in a folder of ``BABELVL_PROTOCOL_PATH``, or pasted by an admin). A project stores that
file's mapping, so the form the annotator sees, the check of what they submit, the exports and
the analysis all read the same scales, severities, categories, definitions and missing token.
This module only adds what a web form needs on top: parsing form text into numbers and span
lists, and grouping the protocol's answers into widgets.

Submitted form fields: each scale under its name (a number), each text field under its name, and
the spans under ``spans.key`` as the JSON list the page's script collects
(``[{"start", "end", "severity", "category"?, "note"?}]``, Python code point offsets into the
translation; a span on the protocol's missing token has ``start``/``end`` null).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from babelvl.errors import InputError
from babelvl.quality.protocols import (Protocol, Scale, list_protocols, load_protocol,
                                       protocol_from_mapping)

MAX_TEXT = 20_000
"""Longest post-edit or comment accepted, in characters: a bound on what one form can store."""
MAX_SPANS = 200
SLIDER_STEPS = 11
"""A scale with more points than this is a slider with a number box (ESA's 0-100); fewer: choices."""
RESERVED = {"csrf_token", "served", "client_seconds"}
"""Form fields the app itself uses; no protocol answer may take these names."""


class ProtocolError(InputError):
    """A protocol that cannot be used for a project."""


class FieldError(InputError):
    """A submitted form that does not fit the protocol; ``field`` names the first bad field and
    ``problems`` lists every (field, reason)."""

    def __init__(self, reason: str, *, field: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(reason, field=field)
        self.problems = problems or [(field, reason)]


def available_protocols() -> list[str]:
    """Names an admin can pick: ``BABELVL_PROTOCOL_PATH`` folders first, then the shipped ones."""
    return list_protocols()


def resolve_protocol(protocol: str | Path | Mapping[str, Any] | Protocol) -> Protocol:
    """A protocol by name or YAML path (as the CLI takes it), or a parsed mapping (pasted text)."""
    if isinstance(protocol, Protocol):
        result = protocol
    else:
        try:
            result = (protocol_from_mapping(dict(protocol), file="pasted protocol")
                      if isinstance(protocol, Mapping) else load_protocol(protocol))
        except InputError as exc:
            raise ProtocolError(str(exc)) from None
    clash = sorted(RESERVED & set(result.answer_keys()))
    if clash:
        raise ProtocolError(f"protocol '{result.name}' uses answer name(s) the app reserves: "
                            f"{', '.join(clash)}")
    return result


def project_protocol(stored: Mapping[str, Any]) -> Protocol:
    """The protocol a project stored (the YAML mapping, as JSON)."""
    try:
        return protocol_from_mapping(dict(stored), file="the project's protocol")
    except InputError:
        name = stored.get("name")
        if isinstance(name, str) and name in list_protocols():
            # Projects created before the app read protocol files stored a short dict of their own;
            # they were always one of the shipped protocols, so the file of that name stands in.
            return load_protocol(name)
        raise


# --- what the form shows ----------------------------------------------------------------------

def is_slider(scale: Scale) -> bool:
    return len(scale.values()) > SLIDER_STEPS


@dataclass(frozen=True)
class Anchor:
    value: float
    label: str
    at: float
    """Position on the slider track, 0 (min) to 1 (max)."""


def anchors_of(scale: Scale) -> list[Anchor]:
    width = scale.max - scale.min
    return [Anchor(value, label, (value - scale.min) / width)
            for value, label in sorted(scale.anchors.items())]


def shown_target(protocol: Protocol, target: str) -> str:
    """The translation as the annotator sees it: with the missing token after it, if any
    (the same text the Label Studio and Argilla exports show)."""
    token = protocol.spans.missing_token if protocol.spans else None
    return f"{target} {token}" if token else target


# --- reading a submitted form -----------------------------------------------------------------

def _number(raw: str, name: str) -> int | float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        raise FieldError(f"{raw!r} is not a number", field=name) from None
    return int(value) if value.is_integer() else value


def _text(form: Mapping[str, Any], name: str) -> str:
    text = str(form.get(name, "") or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        raise FieldError(f"longer than {MAX_TEXT} characters", field=name)
    return text


def _spans(form: Mapping[str, Any], protocol: Protocol, target: str) -> list[dict[str, Any]]:
    """The page's JSON span list, cleaned: positions checked, selected text added, sorted."""
    assert protocol.spans is not None
    name = protocol.spans.key
    raw = str(form.get(name, "") or "").strip() or "[]"
    try:
        spans = json.loads(raw)
    except json.JSONDecodeError:
        raise FieldError("not a JSON list of spans", field=name) from None
    if not isinstance(spans, list) or len(spans) > MAX_SPANS:
        raise FieldError(f"expected a list of at most {MAX_SPANS} spans", field=name)
    out = []
    for i, span in enumerate(spans):
        where = f"{name}[{i}]"
        if not isinstance(span, dict):
            raise FieldError("each span must be an object", field=where)
        start, end = span.get("start"), span.get("end")
        clean: dict[str, Any] = {k: v for k, v in span.items() if k not in ("text",)}
        if start is None and end is None:
            if not protocol.spans.missing_token:
                raise FieldError("a span needs start and end (this protocol has no missing token)",
                                 field=where)
            clean["start"] = clean["end"] = None
        elif not (type(start) is int and type(end) is int and 0 <= start < end <= len(target)):
            raise FieldError(f"start/end must satisfy 0 <= start < end <= {len(target)}", field=where)
        else:
            clean["text"] = target[start:end]
        if clean.get("note") in ("", None):
            clean.pop("note", None)
        out.append(clean)
    return sorted(out, key=lambda s: (s["start"] is None, s["start"] or 0, s["end"] or 0))


def validate_submission(protocol: Protocol, form: Mapping[str, Any], target_text: str) -> dict[str, Any]:
    """Turn submitted form fields into the Annotation ``values``; raises :class:`FieldError`.

    Parsing (numbers, JSON) happens here; every rule (required answers, ranges, steps, known
    severities and categories, offsets) is the protocol's own :meth:`Protocol.problems`.
    """
    values: dict[str, Any] = {}
    for scale in protocol.scales:
        number = _number(str(form.get(scale.name, "") or ""), scale.name)
        if number is not None:
            values[scale.name] = number
    for text_field in protocol.fields:
        text = _text(form, text_field.name)
        if text:
            values[text_field.name] = text
    if protocol.spans is not None:
        values[protocol.spans.key] = _spans(form, protocol, target_text)
    problems = protocol.problems(values, target_text=target_text)
    if problems:
        field, reason = problems[0]
        raise FieldError(reason, field=field, problems=problems)
    return values
