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

from babelvl.translate.code import LITERAL_NEWLINE, comment_start, is_code_field, is_formula, is_table_row, looks_like_code

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
#: cell separators of a table row: the cells are translated, the layout is kept
_CELL_SEPARATOR = ("cell_separator", r"[ ]*(?:\||\t)[ \t]*")


def _compile(quoted: bool, table: bool) -> re.Pattern[str]:
    patterns = ([_CELL_SEPARATOR] if table else []) + ([_QUOTED] if quoted else []) + _BASE_PATTERNS
    return re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in patterns), re.DOTALL)


_MASKERS = {(q, t): _compile(q, t) for q in (False, True) for t in (False, True)}

#: how a field's code is treated: kept as it is, or translated in its comments only
CODE_MODES = ("verbatim", "comments")


@dataclass(frozen=True)
class Masked:
    text: str
    """The text with protected spans replaced by ``⟦i⟧``."""
    values: tuple[str, ...]
    """The original spans, ``values[i]`` for ``⟦i⟧``."""


def mask(text: str, *, quoted: bool = False, table: bool = False) -> Masked:
    """Replace protected spans by numbered placeholders, in order of appearance.

    ``table`` also protects the cell separators of a table row (tabs, ``|``).
    """
    values: list[str] = []

    def repl(match: re.Match[str]) -> str:
        values.append(match.group(0))
        return f"⟦{len(values) - 1}⟧"

    return Masked(_MASKERS[(quoted, table)].sub(repl, text), tuple(values))


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
    sep: str = "\n"
    """What follows this piece before the next one: a line break, or the space between two sentences of
    one line (long hints are split into sentences)."""


_HAS_WORD = re.compile(r"[^\W\d_]", re.UNICODE)


_SENTENCE_END = re.compile(r"(?<=[.!?])(\s+)(?=[\"“(]?[A-Z0-9])")


def split_lines(text: str, *, quoted: bool = False, code: str = "verbatim", sentences: bool = False) -> list[Line]:
    """Split a field value into lines; each line with letters outside protected spans is a segment.

    Code never reaches an engine as text: a value that is a program or a formula (see
    :mod:`babelvl.translate.code`, literal ``\\n`` forms included) is one verbatim line, and so are fenced
    blocks and code or formula lines inside prose. With ``code="comments"`` the comments of code lines are
    translated and everything else kept. Table rows keep their cell separators. ``sentences`` splits
    each prose line into sentences (long hints and lectures travel one sentence at a time).
    """
    if code not in CODE_MODES:
        raise ValueError(f"code must be one of {CODE_MODES}, got {code!r}")
    whole_code = is_code_field(text)
    if whole_code and (code == "verbatim" or LITERAL_NEWLINE in text):
        return [Line(text, None, "")]
    lines = []
    fenced = False
    for raw in text.split("\n"):
        stripped = raw.strip()
        fence = "```" in stripped  # a line that opens or closes a fenced block is kept whole
        if whole_code or fenced or fence or looks_like_code(raw) or is_formula(stripped):
            if stripped.count("```") % 2:
                fenced = not fenced
            lines.append(_comment_line(raw, quoted) if code == "comments" else Line(raw, None, ""))
            continue
        lead = raw[: len(raw) - len(raw.lstrip())]
        trail = raw[len(raw.rstrip()):]
        table = is_table_row(stripped)
        pieces = _SENTENCE_END.split(stripped) if sentences and not table else [stripped]
        for index in range(0, len(pieces), 2):
            piece = pieces[index]
            last = index + 1 >= len(pieces)
            piece_lead, piece_trail = (lead if index == 0 else ""), (trail if last else "")
            masked = mask(piece, quoted=quoted, table=table) if piece else None
            if masked is not None and not _HAS_WORD.search(PLACEHOLDER.sub("", masked.text)):
                masked = None  # only numbers/code/URLs: nothing to translate
            sep = "\n" if last else pieces[index + 1]
            lines.append(Line(piece_lead, masked, piece_trail, sep) if masked
                         else Line(piece_lead + piece, None, piece_trail, sep))
    return lines


def _comment_line(raw: str, quoted: bool) -> Line:
    """A code line whose comment (``# ...``, ``// ...``) is translated and whose code is kept."""
    start = comment_start(raw)
    if start is None:
        return Line(raw, None, "")
    marker = 2 if raw.startswith("//", start) else 1
    head, comment = raw[: start + marker], raw[start + marker:]
    lead_space = comment[: len(comment) - len(comment.lstrip())]
    body = comment.strip()
    masked = mask(body, quoted=quoted) if body else None
    if masked is None or not _HAS_WORD.search(PLACEHOLDER.sub("", masked.text)):
        return Line(raw, None, "")
    return Line(head + lead_space, masked, comment[len(lead_space) + len(body):])


def join_lines(lines: list[Line], translated: list[str | None]) -> str:
    """Reassemble a field from its lines and the (unmasked) translations of its segment lines."""
    parts = []
    for index, (line, text) in enumerate(zip(lines, translated)):
        parts.append(line.lead + (text if line.body is not None and text is not None else "") + line.trail)
        if index + 1 < len(lines):
            parts.append(line.sep)
    return "".join(parts)
