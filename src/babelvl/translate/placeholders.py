"""Protect spans a translation must not touch, and split texts into segments.

Protected spans (code, LaTeX, URLs, numbers, option letters inside text, and quoted names when asked)
are replaced by ``⟦0⟧``, ``⟦1⟧`` ... before a text reaches an engine, and put back afterwards. Masking
also improves de-duplication: "Is 3 > 2?" and "Is 5 > 4?" become the same segment "Is ⟦0⟧ > ⟦1⟧?".
Regular expressions are hand-written here because no maintained library masks this set of span kinds
for MT; each pattern is small and tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"⟦(\d+)⟧")

# Order matters: larger constructs first so a number inside LaTeX or a URL is masked with it.
_BASE_PATTERNS: list[tuple[str, str]] = [
    ("code_block", r"```.*?```"),
    ("code", r"`[^`\n]+`"),
    ("latex_display", r"\$\$.+?\$\$|\\\[.+?\\\]"),
    ("latex_inline", r"\$[^$\n]+\$|\\\(.+?\\\)"),
    ("latex_command", r"\\[A-Za-z]+(?:\{[^{}]*\})+"),
    ("url", r"https?://[^\s)\]>]+|www\.[^\s)\]>]+"),
    ("email", r"[\w.+-]+@[\w-]+\.[\w.]+"),
    ("option_letter", r"\([A-Z]\)|\[[A-Z]\]"),
    ("number", r"(?<![\w⟦])[-+−]?\d+(?:[.,]\d+)*(?:%|°[CF]?)?(?![\w⟧])"),
]
_QUOTED = ("quoted", r"\"[^\"\n]{1,60}\"|“[^”\n]{1,60}”|«[^»\n]{1,60}»")


def _compile(quoted: bool) -> re.Pattern[str]:
    patterns = ([_QUOTED] if quoted else []) + _BASE_PATTERNS
    return re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in patterns), re.DOTALL)


_MASKERS = {False: _compile(False), True: _compile(True)}


@dataclass(frozen=True)
class Masked:
    text: str
    """The text with protected spans replaced by ``⟦i⟧``."""
    values: tuple[str, ...]
    """The original spans, ``values[i]`` for ``⟦i⟧``."""


def mask(text: str, *, quoted: bool = False) -> Masked:
    """Replace protected spans by numbered placeholders, in order of appearance."""
    values: list[str] = []

    def repl(match: re.Match[str]) -> str:
        values.append(match.group(0))
        return f"⟦{len(values) - 1}⟧"

    return Masked(_MASKERS[quoted].sub(repl, text), tuple(values))


def unmask(text: str, values: tuple[str, ...] | list[str]) -> str:
    """Put the original spans back. Unknown placeholder numbers are left visible (the checks flag them)."""

    def repl(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return values[index] if index < len(values) else match.group(0)

    return PLACEHOLDER.sub(repl, text)


def remask(plain: str, values: tuple[str, ...] | list[str]) -> str | None:
    """Mask a post-edited plain text again with a segment's known spans; None if a span went missing.

    Spans are matched left to right in placeholder order so a repeated number maps to the right slot.
    """
    out, cursor = [], 0
    for index, value in enumerate(values):
        found = plain.find(value, cursor) if value else -1
        if found < 0:
            found = plain.find(value)  # an editor may reorder spans (word order differs by language)
            if found < 0 or found < cursor:
                return None if found < 0 else _remask_any_order(plain, values)
        out.append(plain[cursor:found])
        out.append(f"⟦{index}⟧")
        cursor = found + len(value)
    out.append(plain[cursor:])
    return "".join(out)


def _remask_any_order(plain: str, values: tuple[str, ...] | list[str]) -> str | None:
    # Longest spans first, so "3.5" is not split by a "3" span.
    order = sorted(range(len(values)), key=lambda i: -len(values[i]))
    text = plain
    for index in order:
        if values[index] not in text:
            return None
        text = text.replace(values[index], f"\x00{index}\x00", 1)
    return re.sub(r"\x00(\d+)\x00", lambda m: f"⟦{m.group(1)}⟧", text)


def placeholders_in(text: str) -> list[int]:
    return [int(m.group(1)) for m in PLACEHOLDER.finditer(text)]


@dataclass(frozen=True)
class Line:
    """One line of a field value: its surrounding whitespace and (when it has words) its masked text."""

    lead: str
    body: Masked | None
    """None for lines with nothing to translate (empty, or only protected spans)."""
    trail: str


_HAS_WORD = re.compile(r"[^\W\d_]", re.UNICODE)


def split_lines(text: str, *, quoted: bool = False) -> list[Line]:
    """Split a field value into lines; each line with letters outside protected spans is a segment."""
    lines = []
    for raw in text.split("\n"):
        stripped = raw.strip()
        lead = raw[: len(raw) - len(raw.lstrip())]
        trail = raw[len(raw.rstrip()):]
        masked = mask(stripped, quoted=quoted) if stripped else None
        if masked is not None and not _HAS_WORD.search(PLACEHOLDER.sub("", masked.text)):
            masked = None  # only numbers/code/URLs: nothing to translate
        lines.append(Line(lead, masked, trail) if masked else Line(lead + stripped, None, trail))
    return lines


def join_lines(lines: list[Line], translated: list[str | None]) -> str:
    """Reassemble a field from its lines and the (unmasked) translations of its segment lines."""
    parts = []
    for line, text in zip(lines, translated):
        parts.append(line.lead + (text if line.body is not None and text is not None else "") + line.trail)
    return "\n".join(parts)
