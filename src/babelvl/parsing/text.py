"""Text normalisation shared by the babelvl parser: accent/case folding and phrase patterns.

Kept apart from the parsing rules so that every word list from a language pack is compared the same
way (case-, accent- and apostrophe-insensitive, whole words only).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'"})


def strip_accents(text: str) -> str:
    """Drop diacritics but keep case: "Réponse è B" -> "Reponse e B" (letters stay recognisable)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for every comparison with pack words.

    ``lower`` rather than ``casefold`` so that folding keeps string lengths (German "ß" stays "ß" on
    both sides of a comparison).
    """
    return strip_accents(text).lower()


def phrase_regex(phrase: str) -> str:
    """Regex source for one pack phrase, matching whole words in folded text.

    Whitespace matches any whitespace run. Otherwise a phrase must start and end on word boundaries,
    with two exceptions for elisions and contractions: an entry ending with an apostrophe (French
    "n'") may be glued to the next word, and a one-word entry with an inner apostrophe (English
    "n't") may be glued to the previous one ("isn't").
    """
    words = fold(phrase).split()
    body = r"\s+".join(re.escape(w) for w in words)
    contraction = len(words) == 1 and "'" in words[0].strip("'")
    start = r"(?<!\w)" if words and re.match(r"\w", words[0]) and not contraction else ""
    end = r"(?!\w)" if words and re.search(r"\w$", words[-1]) else ""
    return f"{start}{body}{end}"


def any_phrase(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching any of ``phrases`` (longest first), or None when the list is empty."""
    unique = sorted({p for p in phrases if p and p.strip()}, key=lambda p: (-len(p), p))
    if not unique:
        return None
    return re.compile("|".join(f"(?:{phrase_regex(p)})" for p in unique))


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def normalise_option_text(text: str) -> str:
    """Folded text with punctuation turned into single spaces: how option texts are compared."""
    return " ".join(re.sub(r"[\W_]+", " ", fold(text)).split())
