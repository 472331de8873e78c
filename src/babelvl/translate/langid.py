"""Language identification of translated segments, with lingua restricted to the run's languages.

Restricting the detector to the languages of the run (plus English, the usual source and the usual
"did not translate" output) makes it both faster to load (~1 s) and more accurate than asking it to
choose among 75 languages. Languages lingua does not know are skipped (no verdict), never an error:
adding a language pack must not break a run.

Every detector is unreliable on one or two words ("Un chat."), so texts with fewer than
:data:`MIN_WORDS` words or :data:`MIN_LETTERS` letters are *too short to judge*: the check passes
without a verdict and the quality report counts them as ``language_id_skipped``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

#: fewer words than this (tokens containing at least one letter) is too short to judge
MIN_WORDS = 4
#: fewer letters than this is too short to judge
MIN_LETTERS = 20


def too_short(text: str) -> bool:
    """True when ``text`` holds too little language to identify it reliably.

    Only letters count: placeholders (``⟦0⟧``), numbers and punctuation carry no language.
    """
    words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
    letters = sum(ch.isalpha() for ch in text)
    return len(words) < MIN_WORDS or letters < MIN_LETTERS


def _lingua_language(code: str) -> Any | None:
    """The lingua ``Language`` for an ISO 639-1/-3 code (``fr``, ``fra``, ``pt-BR``), or None."""
    from lingua import IsoCode639_1, IsoCode639_3, Language

    base = code.replace("_", "-").split("-")[0].strip().lower()
    try:
        if len(base) == 2:
            return Language.from_iso_code_639_1(IsoCode639_1.from_str(base))
        if len(base) == 3:
            return Language.from_iso_code_639_3(IsoCode639_3.from_str(base))
    except ValueError:
        return None
    return None


def is_supported(code: str) -> bool:
    """Whether language ID can judge ``code`` at all (cheap: loads no model)."""
    return _lingua_language(code) is not None


@lru_cache(maxsize=8)
def _build(languages: frozenset[Any]) -> Any:
    """One lingua detector per language set, shared by every checker of the process."""
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(*languages).build()


class LanguageDetector:
    """Detects which of a fixed set of languages a text is in.

    The lingua models load on the first call (about 1 s for five languages) and are cached per
    language set, so building many ``LanguageDetector`` objects for the same run costs nothing.
    """

    def __init__(self, codes: Sequence[str]) -> None:
        self.codes: tuple[str, ...] = tuple(dict.fromkeys([*codes, "en"]))
        self._by_language: dict[Any, str] = {}
        self._language_of: dict[str, Any] = {}
        for code in self.codes:
            language = _lingua_language(code)
            if language is not None:
                self._language_of[code] = language
                self._by_language.setdefault(language, code)

    def supports(self, code: str) -> bool:
        """Whether ``code`` is one of this detector's languages and lingua knows it."""
        return code in self._language_of

    def confidences(self, text: str) -> dict[str, float]:
        """Confidence (0-1, summing to 1) for each supported code; empty when nothing to judge."""
        if not self._by_language or not any(ch.isalpha() for ch in text):
            return {}
        values = {c.language: c.value for c in
                  _build(frozenset(self._by_language)).compute_language_confidence_values(text)}
        return {code: float(values.get(lang, 0.0)) for code, lang in self._language_of.items()}

    def detect(self, text: str) -> tuple[str | None, float]:
        """The most likely language code and its confidence, or ``(None, 0.0)`` if undecidable."""
        scores = self.confidences(text)
        if not scores:
            return None, 0.0
        best = max(scores.values())
        if best <= 0.0:
            return None, 0.0
        language = next(self._language_of[c] for c, v in scores.items() if v == best)
        return self._by_language[language], best
