"""Annotation protocols as data: what annotators answer for an item, and how answers become a score.

A protocol is one YAML file (see ``protocols/esa.yaml`` for the documented reference). It is found
by name in, in order: the folders listed in ``BABELVL_PROTOCOL_PATH`` (``os.pathsep``-separated),
then the protocols shipped with babelvl; a path to a ``.yaml`` file is accepted wherever a name is.
A team adds its own protocol (another scale, its own MQM typology or weights) by writing a file.

Answers (``Annotation.values``) are one flat JSON object per item: each scale's number under its
name, each free-text field's string under its name, and the marked spans as a list under
``spans.key`` (``{"start", "end", "severity", "category"?, "text"?, "note"?}``; a span without
``start``/``end`` marks content missing from the translation). Which *scoring rule* applies is the
protocol's ``kind`` (esa, mqm, likert, postedit); everything else comes from the file.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from babelvl.errors import InputError

PACKAGED_DIR = Path(__file__).parent / "protocols"
ENV_VAR = "BABELVL_PROTOCOL_PATH"
KINDS = ("esa", "mqm", "likert", "postedit")
WIDGETS = ("number", "rating", "choices")
SPAN_KEYS = ("start", "end", "severity", "category", "text", "note")


@dataclass(frozen=True)
class Scale:
    """A numeric answer: a rating or a 0-100 slider."""

    name: str
    min: float
    max: float
    step: float = 1
    required: bool = True
    widget: str = "number"
    """How annotation tools show it: ``number`` (free input), ``rating`` (stars), ``choices``."""
    description: str = ""
    anchors: dict[float, str] = field(default_factory=dict)
    """Value -> label shown to annotators (ESA slider marks, Likert option texts)."""

    def values(self) -> list[float]:
        """Every allowed value, for scales small enough to list (choices, ratings)."""
        count = int(round((self.max - self.min) / self.step))
        return [_tidy(self.min + i * self.step) for i in range(count + 1)]


@dataclass(frozen=True)
class TextField:
    """A free-text answer (a post-edit, a comment)."""

    name: str
    required: bool = False
    prefill: str | None = None
    """``target``: start from the translation (post-editing); None: start empty."""
    description: str = ""


@dataclass(frozen=True)
class Spans:
    """Marked stretches of the translation, each with a severity (and a category for MQM)."""

    key: str
    severities: dict[str, str]
    """Name -> definition, in the order annotators see them."""
    categories: dict[str, str] = field(default_factory=dict)
    missing_token: str | None = None
    required: bool = False


@dataclass(frozen=True)
class WeightOverride:
    """A weight for one category (and optionally one severity), replacing the severity's weight."""

    weight: float
    category: str | None = None
    severity: str | None = None


@dataclass(frozen=True)
class Protocol:
    """One annotation protocol, read from YAML; validates and scores answers."""

    name: str
    kind: str
    description: str = ""
    title: str = ""
    reference: str = ""
    instructions: str = ""
    scales: tuple[Scale, ...] = ()
    fields: tuple[TextField, ...] = ()
    spans: Spans | None = None
    weights: dict[str, float] = field(default_factory=dict)
    """Severity -> points (MQM)."""
    weight_overrides: tuple[WeightOverride, ...] = ()
    score_options: dict[str, Any] = field(default_factory=dict)
    """The YAML ``score`` mapping: parameters of the kind's scoring rule."""
    source: str = field(default="", compare=False)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The mapping the protocol was read from (JSON-able): what the app stores with a project."""

    def to_dict(self) -> dict[str, Any]:
        """The protocol as plain data; :func:`protocol_from_mapping` reads it back unchanged."""
        return json.loads(json.dumps(self.raw))

    # -- convenience views --------------------------------------------------------------------

    @property
    def severities(self) -> tuple[str, ...]:
        return tuple(self.spans.severities) if self.spans else ()

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.spans.categories) if self.spans else ()

    @property
    def anchors(self) -> dict[str, dict[float, str]]:
        """Scale name -> its anchors."""
        return {s.name: dict(s.anchors) for s in self.scales}

    def scale(self, name: str) -> Scale:
        for s in self.scales:
            if s.name == name:
                return s
        raise KeyError(f"protocol '{self.name}' has no scale '{name}'")

    def answer_keys(self) -> list[str]:
        """Every key an answer may hold."""
        return ([s.name for s in self.scales] + [f.name for f in self.fields]
                + ([self.spans.key] if self.spans else []))

    # -- validation ---------------------------------------------------------------------------

    def validate(self, values: Any, *, target_text: str | None = None) -> list[str]:
        """Every problem with one item's answers (empty when fine).

        ``target_text`` (the translation as annotated, without the missing token) lets span
        offsets be checked against its length.
        """
        return [reason for _, reason in self.problems(values, target_text=target_text)]

    def problems(self, values: Any, *, target_text: str | None = None) -> list[tuple[str, str]]:
        """:meth:`validate` as (answer key, reason) pairs, so a form can point at its field."""
        if not isinstance(values, Mapping):
            return [("", f"answers must be a JSON object, not {type(values).__name__}")]
        problems: list[tuple[str, str]] = []
        allowed = self.answer_keys()
        for key in values:
            if key not in allowed:
                problems.append((str(key), f"unknown answer '{key}' (protocol '{self.name}' has: "
                                           f"{', '.join(allowed)})"))
        for scale in self.scales:
            problems += [(scale.name, r) for r in _check_scale(scale, values.get(scale.name))]
        for text_field in self.fields:
            value = values.get(text_field.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if text_field.required:
                    problems.append((text_field.name, f"'{text_field.name}' is required"))
            elif not isinstance(value, str):
                problems.append((text_field.name, f"'{text_field.name}' must be text"))
        if self.spans:
            problems += _check_spans(self.spans, values.get(self.spans.key), target_text)
        return problems

    # -- scoring ------------------------------------------------------------------------------

    def score(self, values: Mapping[str, Any], *, source_text: str | None = None,
              target_text: str | None = None, scale: str | None = None) -> float | None:
        """The item's score under this protocol's rule, or None when the answer has none.

        esa: the scale named by ``score.scale`` (0-100). mqm: minus the summed error weights,
        optionally per ``score.per_words`` words. likert: the mean of ``score.scales`` (or the
        one ``scale`` asked for). postedit: HTER of ``target_text`` (the machine translation)
        against the post-edit. Call :meth:`validate` first; scoring assumes valid answers.
        """
        if scale is not None:
            value = values.get(self.scale(scale).name)
            return None if value is None else float(value)
        return _SCORERS[self.kind](self, values, source_text, target_text)

    def error_weight(self, severity: str, category: str | None = None) -> float:
        """Points for one error: the first matching override, else the severity's weight."""
        for rule in self.weight_overrides:
            if ((rule.category is None or rule.category == category)
                    and (rule.severity is None or rule.severity == severity)):
                return rule.weight
        return self.weights.get(severity, 0.0)


def _tidy(value: float) -> float:
    """Whole numbers as ints, so scales read 1..5 rather than 1.0..5.0 in exports."""
    return int(value) if float(value).is_integer() else value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_scale(scale: Scale, value: Any) -> list[str]:
    if value is None:
        return [f"'{scale.name}' is required"] if scale.required else []
    if not _is_number(value):
        return [f"'{scale.name}' must be a number, not {value!r}"]
    if not scale.min <= value <= scale.max:
        return [f"'{scale.name}' is {value}, outside the scale {_tidy(scale.min)}-{_tidy(scale.max)}"]
    steps = (value - scale.min) / scale.step
    if abs(steps - round(steps)) > 1e-9:
        return [f"'{scale.name}' is {value}, not on the scale's steps of {_tidy(scale.step)} "
                f"from {_tidy(scale.min)}"]
    return []


def _check_spans(spans: Spans, value: Any, target_text: str | None) -> list[tuple[str, str]]:
    key = spans.key
    if value is None:
        return [(key, f"'{key}' is required (an empty list means no errors)")] if spans.required else []
    if not isinstance(value, list):
        return [(key, f"'{key}' must be a list of spans")]
    problems: list[tuple[str, str]] = []
    for i, span in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(span, Mapping):
            problems.append((where, f"{where} must be an object"))
            continue
        unknown = [k for k in span if k not in SPAN_KEYS]
        if unknown:
            problems.append((where, f"{where} has unknown key(s) {', '.join(unknown)} "
                                    f"(allowed: {', '.join(SPAN_KEYS)})"))
        severity = span.get("severity")
        if severity not in spans.severities:
            problems.append((where, f"{where}: unknown severity {severity!r} "
                                    f"(one of {', '.join(spans.severities)})"))
        category = span.get("category")
        if spans.categories:
            if category not in spans.categories:
                problems.append((where, f"{where}: unknown category {category!r} "
                                        f"(one of {', '.join(spans.categories)})"))
        elif category is not None:
            problems.append((where, f"{where}: this protocol has no categories, got {category!r}"))
        problems += [(where, r) for r in _check_offsets(where, span.get("start"), span.get("end"),
                                                        target_text)]
    return problems


def _check_offsets(where: str, start: Any, end: Any, target_text: str | None) -> list[str]:
    if start is None and end is None:
        return []  # content missing from the translation: no position
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) \
            or isinstance(end, bool):
        return [f"{where}: start and end must both be whole numbers (or both absent for "
                f"missing content), got {start!r}, {end!r}"]
    if not 0 <= start < end:
        return [f"{where}: start {start} and end {end} do not make a span (0 <= start < end)"]
    if target_text is not None and end > len(target_text):
        return [f"{where}: end {end} is past the translation's {len(target_text)} characters"]
    return []


# -- scoring rules, one per kind --------------------------------------------------------------

Scorer = Callable[[Protocol, Mapping[str, Any], "str | None", "str | None"], "float | None"]


def _score_esa(p: Protocol, values: Mapping[str, Any], source: str | None,
               target: str | None) -> float | None:
    value = values.get(p.score_options["scale"])
    return None if value is None else float(value)


def _score_mqm(p: Protocol, values: Mapping[str, Any], source: str | None,
               target: str | None) -> float | None:
    assert p.spans is not None
    errors = values.get(p.spans.key) or []
    penalty = sum(p.error_weight(e.get("severity"), e.get("category")) for e in errors)
    per_words = p.score_options.get("per_words")
    if not per_words:
        return -float(penalty)
    words_of = p.score_options.get("words_of", "target")
    text = target if words_of == "target" else source
    if text is None:
        raise InputError(f"protocol '{p.name}' scores per {per_words} words of the {words_of}: "
                         f"pass {words_of}_text")
    words = len(text.split())
    return None if words == 0 else -float(penalty) * per_words / words


def _score_likert(p: Protocol, values: Mapping[str, Any], source: str | None,
                  target: str | None) -> float | None:
    names = p.score_options.get("scales") or [s.name for s in p.scales]
    ratings = [float(values[n]) for n in names if values.get(n) is not None]
    return sum(ratings) / len(ratings) if ratings else None


def _score_postedit(p: Protocol, values: Mapping[str, Any], source: str | None,
                    target: str | None) -> float | None:
    from babelvl.translate.edits import corpus_hter

    edited = values.get(p.score_options["field"])
    if not isinstance(edited, str) or not edited.strip():
        return None
    if target is None:
        raise InputError(f"protocol '{p.name}' scores HTER against the translation: pass target_text")
    return corpus_hter([(target, edited.strip())])["hter"]


_SCORERS: dict[str, Scorer] = {"esa": _score_esa, "mqm": _score_mqm, "likert": _score_likert,
                               "postedit": _score_postedit}


# -- reading protocol files -------------------------------------------------------------------


def _search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    return [*extra, PACKAGED_DIR]


def list_protocols() -> list[str]:
    """Names of every protocol that can be loaded, user folders first."""
    names: list[str] = []
    for folder in _search_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                if path.stem not in names:
                    names.append(path.stem)
    return names


def load_protocol(name_or_path: str | Path) -> Protocol:
    """The protocol called ``name_or_path`` (searched as described above) or read from that file."""
    return _load_cached(str(name_or_path), os.environ.get(ENV_VAR, ""))


@lru_cache(maxsize=None)
def _load_cached(name_or_path: str, search_key: str) -> Protocol:
    if name_or_path.endswith((".yaml", ".yml")):
        return load_protocol_file(name_or_path)
    for folder in _search_dirs():
        candidate = folder / f"{name_or_path}.yaml"
        if candidate.is_file():
            protocol = load_protocol_file(candidate)
            if protocol.name != name_or_path:
                raise InputError(f"protocol declares name '{protocol.name}' but the file is "
                                 f"named '{name_or_path}'", file=str(candidate), field="name")
            return protocol
    raise InputError(f"unknown protocol '{name_or_path}'. Available: {', '.join(list_protocols())}. "
                     f"Add one by writing <name>.yaml (see babelvl/quality/protocols/esa.yaml) "
                     f"into a folder listed in {ENV_VAR}.")


def load_protocol_file(path: str | Path) -> Protocol:
    """Read and check one protocol file; every error names the file and the key."""
    path = Path(path)
    file = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read protocol: {exc}", file=file) from None
    return protocol_from_mapping(raw, file=file)


def protocol_from_mapping(raw: Any, *, file: str = "<protocol>") -> Protocol:
    """Check and build a protocol from its mapping (a parsed YAML file, or what a project stored).

    ``file`` names where the mapping came from in error messages.
    """
    if not isinstance(raw, dict):
        raise InputError("a protocol must be a YAML mapping", file=file)
    raw = _jsonable(raw, file)

    def fail(key: str, reason: str) -> InputError:
        return InputError(reason, file=file, field=key)

    for key in ("name", "kind"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise fail(key, "missing required key (a non-empty string)")
    kind = raw["kind"]
    if kind not in KINDS:
        raise fail("kind", f"unknown kind '{kind}' (one of {', '.join(KINDS)})")
    known = {"name", "kind", "title", "description", "reference", "instructions", "scales",
             "fields", "spans", "weights", "weight_overrides", "score"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise fail(unknown[0], f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(known))})")

    scales = tuple(_read_scale(s, i, fail) for i, s in enumerate(_list(raw, "scales", fail)))
    fields = tuple(_read_field(f, i, fail) for i, f in enumerate(_list(raw, "fields", fail)))
    spans = _read_spans(raw["spans"], fail) if raw.get("spans") is not None else None
    names = [s.name for s in scales] + [f.name for f in fields] + ([spans.key] if spans else [])
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise fail("scales", f"answer name(s) used twice: {', '.join(duplicated)}")
    weights = _read_weights(raw.get("weights") or {}, spans, fail)
    overrides = tuple(_read_override(o, i, spans, fail)
                      for i, o in enumerate(_list(raw, "weight_overrides", fail)))
    score = raw.get("score") or {}
    if not isinstance(score, dict):
        raise fail("score", "must be a mapping of the scoring rule's options")
    _check_kind(kind, scales, fields, spans, weights, score, fail)
    return Protocol(name=raw["name"], kind=kind, description=_text(raw.get("description")),
                    title=_text(raw.get("title")) or raw["name"],
                    reference=_text(raw.get("reference")),
                    instructions=_text(raw.get("instructions")), scales=scales, fields=fields,
                    spans=spans, weights=weights, weight_overrides=overrides, score_options=score,
                    source=file, raw=raw)


def _jsonable(raw: dict[str, Any], file: str) -> dict[str, Any]:
    """The mapping with YAML's number keys (anchors) as JSON has them, so a stored copy reads back
    the same; anchors keys are turned back into numbers by :func:`_read_scale`."""
    try:
        return json.loads(json.dumps(raw, ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise InputError(f"a protocol holds only text, numbers, lists and mappings ({exc})",
                         file=file) from None


Fail = Callable[[str, str], InputError]


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _list(raw: Mapping[str, Any], key: str, fail: Fail) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(key, "must be a list")
    return value


def _name(entry: Mapping[str, Any], where: str, fail: Fail) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail(f"{where}.name", "missing (a non-empty string)")
    return name


def _read_scale(entry: Any, i: int, fail: Fail) -> Scale:
    where = f"scales[{i}]"
    if not isinstance(entry, dict):
        raise fail(where, "must be a mapping with name, min and max")
    name = _name(entry, where, fail)
    for key in ("min", "max"):
        if not _is_number(entry.get(key)):
            raise fail(f"{where}.{key}", "must be a number")
    low, high, step = entry["min"], entry["max"], entry.get("step", 1)
    if not low < high:
        raise fail(f"{where}.max", f"max {high} must be above min {low}")
    if not _is_number(step) or step <= 0:
        raise fail(f"{where}.step", "must be a positive number")
    widget = entry.get("widget", "number")
    if widget not in WIDGETS:
        raise fail(f"{where}.widget", f"unknown widget '{widget}' (one of {', '.join(WIDGETS)})")
    anchors = entry.get("anchors") or {}
    if not isinstance(anchors, dict):
        raise fail(f"{where}.anchors", "must map values to labels")
    numbered: dict[float, str] = {}
    for key, label in anchors.items():
        value = _as_number(key)
        if value is None or not low <= value <= high:
            shown = repr(key) if value is None else _tidy(value)
            raise fail(f"{where}.anchors", f"anchor {shown} is not a value of the scale {low}-{high}")
        numbered[_tidy(value)] = _text(label)
    return Scale(name=name, min=low, max=high, step=step, required=bool(entry.get("required", True)),
                 widget=widget, description=_text(entry.get("description")), anchors=numbered)


def _as_number(key: Any) -> float | None:
    """An anchor's value: a YAML number, or the same number as a JSON object key ("33")."""
    if _is_number(key):
        return key
    if isinstance(key, str):
        try:
            value = float(key)
        except ValueError:
            return None
        return value if math.isfinite(value) else None
    return None


def _read_field(entry: Any, i: int, fail: Fail) -> TextField:
    where = f"fields[{i}]"
    if not isinstance(entry, dict):
        raise fail(where, "must be a mapping with a name")
    prefill = entry.get("prefill")
    if prefill not in (None, "target"):
        raise fail(f"{where}.prefill", "must be 'target' or absent")
    return TextField(name=_name(entry, where, fail), required=bool(entry.get("required", False)),
                     prefill=prefill, description=_text(entry.get("description")))


def _names_map(value: Any, key: str, fail: Fail) -> dict[str, str]:
    """A mapping name -> definition, or a plain list of names."""
    if value is None:
        return {}
    if isinstance(value, list):
        value = {v: "" for v in value}
    if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
        raise fail(key, "must map names to definitions (or list names)")
    return {k: _text(v) for k, v in value.items()}


def _read_spans(entry: Any, fail: Fail) -> Spans:
    if not isinstance(entry, dict):
        raise fail("spans", "must be a mapping")
    key = entry.get("key", "spans")
    if not isinstance(key, str) or not key:
        raise fail("spans.key", "must be a non-empty string")
    severities = _names_map(entry.get("severities"), "spans.severities", fail)
    if not severities:
        raise fail("spans.severities", "list at least one severity")
    token = entry.get("missing_token")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise fail("spans.missing_token", "must be a non-empty string or absent")
    return Spans(key=key, severities=severities,
                 categories=_names_map(entry.get("categories"), "spans.categories", fail),
                 missing_token=token, required=bool(entry.get("required", False)))


def _read_weights(value: Any, spans: Spans | None, fail: Fail) -> dict[str, float]:
    if not isinstance(value, dict):
        raise fail("weights", "must map severities to points")
    for severity, weight in value.items():
        if spans is None or severity not in spans.severities:
            raise fail(f"weights.{severity}", "not a severity of spans.severities")
        if not _is_number(weight) or weight < 0:
            raise fail(f"weights.{severity}", "must be a number >= 0")
    return {k: float(v) for k, v in value.items()}


def _read_override(entry: Any, i: int, spans: Spans | None, fail: Fail) -> WeightOverride:
    where = f"weight_overrides[{i}]"
    if not isinstance(entry, dict) or not _is_number(entry.get("weight")) or entry["weight"] < 0:
        raise fail(where, "must be a mapping with a weight >= 0 and a category and/or severity")
    category, severity = entry.get("category"), entry.get("severity")
    if category is None and severity is None:
        raise fail(where, "name a category and/or a severity")
    if category is not None and (spans is None or category not in spans.categories):
        raise fail(f"{where}.category", f"'{category}' is not in spans.categories")
    if severity is not None and (spans is None or severity not in spans.severities):
        raise fail(f"{where}.severity", f"'{severity}' is not in spans.severities")
    return WeightOverride(weight=float(entry["weight"]), category=category, severity=severity)


def _check_kind(kind: str, scales: tuple[Scale, ...], fields: tuple[TextField, ...],
                spans: Spans | None, weights: dict[str, float], score: dict[str, Any],
                fail: Fail) -> None:
    """What each scoring rule needs from the file."""
    scale_names = {s.name for s in scales}
    field_names = {f.name for f in fields}
    if kind == "esa" and score.get("scale") not in scale_names:
        raise fail("score.scale", "name the scale that is the item's score")
    if kind == "mqm":
        if spans is None:
            raise fail("spans", "an mqm protocol marks errors: define spans")
        missing = [s for s in spans.severities if s not in weights]
        if missing:
            raise fail("weights", f"no weight for severity {', '.join(missing)}")
        per_words = score.get("per_words")
        if per_words is not None and (not _is_number(per_words) or per_words <= 0):
            raise fail("score.per_words", "must be a positive number or null")
        if score.get("words_of", "target") not in ("target", "source"):
            raise fail("score.words_of", "must be 'target' or 'source'")
    if kind == "likert":
        if not scales:
            raise fail("scales", "a likert protocol needs at least one scale")
        listed = score.get("scales") or []
        if not isinstance(listed, list) or any(n not in scale_names for n in listed):
            raise fail("score.scales",
                       f"must list scales of this protocol ({', '.join(sorted(scale_names))})")
    if kind == "postedit" and score.get("field") not in field_names:
        raise fail("score.field", "name the text field that holds the post-edit")
