"""Language packs: everything language-specific lives in one YAML file per language.

A pack is found by its code in, in order: the folders listed in the environment variable
``BABELVL_LANGUAGE_PATH`` (``os.pathsep``-separated), then the packs shipped with babelvl. A path to a
``.yaml`` file is accepted wherever a code is. Adding a language means adding a file, never code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from babelvl.errors import InputError, UnknownLanguageError

PACKAGED_DIR = Path(__file__).parent
REQUIRED_KEYS = ("code", "name", "instructions", "yes", "no")


@dataclass(frozen=True)
class LanguagePack:
    """The language knowledge that prompts and answer parsing need.

    Fields mirror the YAML keys; see ``en.yaml`` for the documented reference pack.
    """

    code: str
    name: str
    instructions: dict[str, str]
    """Fixed instruction texts, e.g. ``multiple_choice`` and ``yes_no`` suffixes."""
    yes: tuple[str, ...]
    """Words meaning yes, canonical first (``yes[0]`` is what a translated Yes/No answer is written as)."""
    no: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)
    """Words used to lay out prompts: ``hint``, ``question``, ``options``."""
    answer_prefixes: tuple[str, ...] = ()
    """Phrases that introduce an answer letter: "the answer is", "la réponse est", "Antwort"."""
    option_words: tuple[str, ...] = ()
    """Words for "option"/"choice" that may stand before a letter: "Option B", "Opción C"."""
    refusals: tuple[str, ...] = ()
    """Phrases that mark a refusal or a non-answer ("I cannot", "non posso")."""
    negations: tuple[str, ...] = ()
    """Words that negate a statement, used to read yes/no answers phrased as sentences."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else a pack carries (few-shot examples, number formats) for later tools."""
    source: str = ""

    def instruction(self, key: str) -> str:
        try:
            return self.instructions[key]
        except KeyError:
            raise InputError(f"language pack '{self.code}' has no instruction '{key}'",
                             file=self.source, field=f"instructions.{key}") from None

    def label(self, key: str, default: str) -> str:
        return self.labels.get(key, default)


def _search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("BABELVL_LANGUAGE_PATH", "").split(os.pathsep) if p]
    return [*extra, PACKAGED_DIR]


def available_languages() -> list[str]:
    """Codes of every pack that can be loaded, user folders first."""
    codes: list[str] = []
    for folder in _search_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                if path.stem not in codes:
                    codes.append(path.stem)
    return codes


def load_pack_file(path: str | Path) -> LanguagePack:
    """Read and validate one pack file; errors name the file and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read language pack: {exc}", file=str(path)) from exc
    if not isinstance(raw, dict):
        raise InputError("a language pack must be a YAML mapping", file=str(path))
    # YAML 1.1 reads bare `yes:` / `no:` keys as booleans; accept them as the words they were meant to be.
    raw = {("yes" if k is True else "no" if k is False else k): v for k, v in raw.items()}
    for key in REQUIRED_KEYS:
        if key not in raw:
            raise InputError("missing required key", file=str(path), field=key)
    for key in ("yes", "no"):
        if not isinstance(raw[key], list) or not raw[key]:
            raise InputError("must be a non-empty list of words", file=str(path), field=key)
    known = {f for f in LanguagePack.__dataclass_fields__ if f not in ("extra", "source")}
    values: dict[str, Any] = {}
    for key in known:
        if key in raw:
            val = raw[key]
            values[key] = tuple(str(v) for v in val) if isinstance(val, list) else val
    values["extra"] = {k: v for k, v in raw.items() if k not in known}
    return LanguagePack(**values, source=str(path))


@lru_cache(maxsize=None)
def _load_cached(code_or_path: str, search_key: str) -> LanguagePack:
    if code_or_path.endswith((".yaml", ".yml")):
        return load_pack_file(code_or_path)
    for folder in _search_dirs():
        candidate = folder / f"{code_or_path}.yaml"
        if candidate.is_file():
            pack = load_pack_file(candidate)
            if pack.code != code_or_path:
                raise InputError(f"pack declares code '{pack.code}' but is named '{code_or_path}'",
                                 file=str(candidate), field="code")
            return pack
    raise UnknownLanguageError(
        f"unknown language code '{code_or_path}': no language pack found. "
        f"Available: {', '.join(available_languages())}. "
        "Add one by writing <code>.yaml (see babelvl/languages/en.yaml) into a folder listed in "
        "BABELVL_LANGUAGE_PATH.")


def load_language(code_or_path: str) -> LanguagePack:
    """Load the pack for a language code (``fr``) or a pack file path."""
    return _load_cached(code_or_path, os.environ.get("BABELVL_LANGUAGE_PATH", ""))


def parse_language_list(text: str) -> list[LanguagePack]:
    """Parse ``"en,fr,de"`` into packs, failing early on any unknown code."""
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if not codes:
        raise UnknownLanguageError("no language given")
    return [load_language(c) for c in codes]
