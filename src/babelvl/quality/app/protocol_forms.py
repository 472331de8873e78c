"""Protocol definitions as plain dicts, and validation of what an annotator submits against them.

The app stores a project's protocol as the dict it was created from, so the YAML loader of
``babelvl.quality.protocols`` can feed :func:`protocol_from_dict` directly. The accepted shape is
deliberately lenient (lists or dicts for labels, severities and categories) and normalised here.

Submitted values (the ``values`` of an :class:`~babelvl.quality.schema.Annotation`):

- esa: ``{"score": 72, "spans": [{"start": 3, "end": 9, "severity": "major", "text": "..."}]}``
- mqm: ``{"errors": [{"start": 3, "end": 9, "category": "accuracy/mistranslation",
  "severity": "minor", "text": "..."}]}``
- likert: ``{"adequacy": 4, "fluency": 5}``
- postedit: ``{"post_edit": "..."}``

Each may also carry ``"comment"``. Span offsets are Python string (code point) offsets into the
translation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from babelvl.errors import InputError

KINDS = ("esa", "mqm", "likert", "postedit")
MAX_TEXT = 20_000
"""Longest post-edit or comment accepted, in characters: a bound on what one form can store."""
MAX_SPANS = 200


class ProtocolError(InputError):
    """A protocol dict that cannot be turned into a form."""


class FieldError(InputError):
    """A submitted value that does not fit the protocol; ``field`` names the form field."""


@dataclass(frozen=True)
class Scale:
    """An integer scale with optional labels on some of its points (anchors)."""

    name: str
    min: int
    max: int
    labels: dict[int, str] = field(default_factory=dict)

    @property
    def points(self) -> list[int]:
        return list(range(self.min, self.max + 1))


@dataclass(frozen=True)
class Protocol:
    """A normalised protocol: everything the form and the validator need."""

    name: str
    kind: str
    description: str = ""
    score: Scale | None = None
    """ESA's overall score (0-100 with anchors)."""
    severities: tuple[str, ...] = ()
    """ESA and MQM span severities, mildest first."""
    categories: tuple[str, ...] = ()
    """MQM error categories ("accuracy/mistranslation")."""
    scales: tuple[Scale, ...] = ()
    """Likert scales (adequacy, fluency)."""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The dict this protocol was built from (what a project stores)."""
        return dict(self.raw)


BUILTIN_PROTOCOLS: dict[str, dict[str, Any]] = {
    "esa": {
        "name": "esa", "kind": "esa",
        "description": "Error Span Annotation: mark error spans in the translation, then give a 0-100 score.",
        "score": {"min": 0, "max": 100, "anchors": {
            0: "No meaning preserved", 33: "Some meaning preserved",
            66: "Most meaning preserved, few grammar mistakes", 100: "Perfect meaning and grammar"}},
        "severities": ["minor", "major"],
    },
    "mqm": {
        "name": "mqm", "kind": "mqm",
        "description": "MQM: mark each error span with a category and a severity.",
        "severities": ["minor", "major", "critical"],
        "categories": {
            "accuracy": ["mistranslation", "omission", "addition", "untranslated"],
            "fluency": ["grammar", "spelling", "punctuation", "register"],
            "terminology": ["inconsistent", "wrong term"],
            "style": ["awkward"],
            "other": [],
        },
    },
    "likert": {
        "name": "likert", "kind": "likert",
        "description": "Rate adequacy and fluency from 1 to 5.",
        "scales": [
            {"name": "adequacy", "min": 1, "max": 5,
             "labels": ["None", "Little meaning", "Much meaning", "Most meaning", "All meaning"]},
            {"name": "fluency", "min": 1, "max": 5,
             "labels": ["Incomprehensible", "Disfluent", "Non-native", "Good", "Flawless"]},
        ],
    },
    "postedit": {
        "name": "postedit", "kind": "postedit",
        "description": "Correct the translation with as few edits as possible.",
    },
}


def builtin_protocol(name: str) -> Protocol:
    if name not in BUILTIN_PROTOCOLS:
        raise ProtocolError(f"unknown protocol {name!r}; built in: {', '.join(BUILTIN_PROTOCOLS)}")
    return protocol_from_dict(BUILTIN_PROTOCOLS[name])


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ProtocolError(f"{where}: expected an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ProtocolError(f"{where}: expected an integer, got {value!r}") from None


def _labels(raw: Any, lo: int, where: str) -> dict[int, str]:
    """Labels as {value: text} or as a list starting at the scale's minimum."""
    if raw is None:
        return {}
    if isinstance(raw, list):
        return {lo + i: str(text) for i, text in enumerate(raw)}
    if isinstance(raw, dict):
        return {_int(k, where): str(v) for k, v in raw.items()}
    raise ProtocolError(f"{where}: labels must be a list or a mapping")


def _scale(raw: Any, name: str, where: str) -> Scale:
    if not isinstance(raw, dict):
        raise ProtocolError(f"{where}: expected a mapping with min and max")
    lo, hi = _int(raw.get("min"), f"{where}.min"), _int(raw.get("max"), f"{where}.max")
    if lo >= hi:
        raise ProtocolError(f"{where}: min must be below max")
    labels = _labels(raw.get("labels", raw.get("anchors")), lo, f"{where}.labels")
    outside = [v for v in labels if not lo <= v <= hi]
    if outside:
        raise ProtocolError(f"{where}: labels outside {lo}..{hi}: {outside}")
    return Scale(str(raw.get("name", name)), lo, hi, dict(sorted(labels.items())))


def _names(raw: Any, where: str) -> tuple[str, ...]:
    """Severities or categories: a list of names, of {name: ...} dicts, or a mapping name -> anything."""
    if raw is None:
        return ()
    if isinstance(raw, dict):
        return tuple(str(k) for k in raw)
    if isinstance(raw, list):
        return tuple(str(x["name"]) if isinstance(x, dict) else str(x) for x in raw)
    raise ProtocolError(f"{where}: expected a list or a mapping")


def _categories(raw: Any) -> tuple[str, ...]:
    """MQM categories, flattening {parent: [child, ...]} into "parent/child"."""
    if isinstance(raw, dict):
        out: list[str] = []
        for parent, children in raw.items():
            kids = _names(children, f"categories.{parent}") if children else ()
            out.extend([f"{parent}/{kid}" for kid in kids] or [str(parent)])
        return tuple(out)
    if isinstance(raw, list) and any(isinstance(x, dict) and "subcategories" in x for x in raw):
        return _categories({x["name"]: x.get("subcategories") for x in raw})
    return _names(raw, "categories")


def protocol_from_dict(raw: Mapping[str, Any]) -> Protocol:
    """Normalise and check a protocol dict; raises :class:`ProtocolError` naming the bad key."""
    if not isinstance(raw, Mapping):
        raise ProtocolError("a protocol must be a mapping")
    name, kind = str(raw.get("name") or ""), str(raw.get("kind") or raw.get("name") or "")
    if not name:
        raise ProtocolError("missing 'name'")
    if kind not in KINDS:
        raise ProtocolError(f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    common = {"name": name, "kind": kind, "description": str(raw.get("description", "")),
              "raw": json.loads(json.dumps(raw, default=str))}
    if kind == "esa":
        score = _scale(raw.get("score", raw.get("scale", {"min": 0, "max": 100})), "score", "score")
        severities = _names(raw.get("severities", ["minor", "major"]), "severities")
        return Protocol(**common, score=score, severities=severities)
    if kind == "mqm":
        severities = _names(raw.get("severities", ["minor", "major", "critical"]), "severities")
        categories = _categories(raw.get("categories"))
        if not severities or not categories:
            raise ProtocolError("mqm needs 'severities' and 'categories'")
        return Protocol(**common, severities=severities, categories=categories)
    if kind == "likert":
        scales_raw = raw.get("scales")
        if isinstance(scales_raw, dict):
            scales_raw = [{"name": k, **v} for k, v in scales_raw.items()]
        if not isinstance(scales_raw, list) or not scales_raw:
            raise ProtocolError("likert needs a non-empty 'scales' list")
        scales = tuple(_scale(s, f"scale{i}", f"scales[{i}]") for i, s in enumerate(scales_raw))
        reserved = {"comment", "csrf_token", "served", "client_seconds"}
        bad = [s.name for s in scales if s.name in reserved or not s.name.isidentifier()]
        if bad or len({s.name for s in scales}) != len(scales):
            raise ProtocolError(f"likert scale names must be unique identifiers, not {bad or 'repeated'}")
        return Protocol(**common, scales=scales)
    return Protocol(**common)


# --- validation of a submitted form -------------------------------------------------------------

def _form_int(form: Mapping[str, Any], name: str, scale: Scale) -> int:
    raw = str(form.get(name, "") or "").strip()
    if not raw:
        raise FieldError("a value is required", field=name)
    try:
        value = int(raw)
    except ValueError:
        raise FieldError(f"{raw!r} is not a whole number", field=name) from None
    if not scale.min <= value <= scale.max:
        raise FieldError(f"{value} is outside the scale {scale.min}..{scale.max}", field=name)
    return value


def _spans(form: Mapping[str, Any], name: str, protocol: Protocol, target: str) -> list[dict[str, Any]]:
    """Parse the JSON list of spans the page's script collects; offsets must lie in the translation."""
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
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) \
                or not 0 <= start < end <= len(target):
            raise FieldError(f"start/end must satisfy 0 <= start < end <= {len(target)}", field=where)
        severity = span.get("severity")
        if severity not in protocol.severities:
            raise FieldError(f"severity must be one of {', '.join(protocol.severities)}", field=where)
        clean: dict[str, Any] = {"start": start, "end": end, "severity": severity}
        if protocol.kind == "mqm":
            category = span.get("category")
            if category not in protocol.categories:
                raise FieldError(f"unknown category {category!r}", field=where)
            clean["category"] = category
        clean["text"] = target[start:end]
        out.append(clean)
    return sorted(out, key=lambda s: (s["start"], s["end"]))


def _text(form: Mapping[str, Any], name: str, *, required: bool) -> str:
    text = str(form.get(name, "") or "").replace("\r\n", "\n")
    if required and not text.strip():
        raise FieldError("must not be empty", field=name)
    if len(text) > MAX_TEXT:
        raise FieldError(f"longer than {MAX_TEXT} characters", field=name)
    return text


def validate_submission(protocol: Protocol, form: Mapping[str, Any], target_text: str) -> dict[str, Any]:
    """Turn submitted form fields into the Annotation ``values``; raises :class:`FieldError`."""
    values: dict[str, Any]
    if protocol.kind == "esa":
        assert protocol.score is not None
        values = {"score": _form_int(form, "score", protocol.score),
                  "spans": _spans(form, "spans", protocol, target_text)}
    elif protocol.kind == "mqm":
        values = {"errors": _spans(form, "errors", protocol, target_text)}
    elif protocol.kind == "likert":
        values = {s.name: _form_int(form, s.name, s) for s in protocol.scales}
    else:
        values = {"post_edit": _text(form, "post_edit", required=True)}
    comment = _text(form, "comment", required=False).strip()
    if comment:
        values["comment"] = comment
    return values
