"""Tell code, formulas and table rows apart from prose, so translation leaves them as they are.

MMBench asks "Which Python code can generate the content of the image?" with four programs as options, some written
with real line breaks, some with a literal ``\\n``; an engine that sees ``print list[0]`` or ``(a+b)*(a-b)``
rewrites keywords and variables ("un+b"). These rules decide, per line and per field value, what is code; the
planner keeps such text verbatim (or, when the field spec says ``code="comments"``, translates only the
comments). The rules are hand-written: code detectors in maintained libraries (Pygments' ``guess_lexer``,
guesslang) name a language for a text known to be code, they do not say whether a line of a question is code,
and they misfire on one-line prose. Each rule is one regular expression, tested on the real MMBench code rows.
"""

from __future__ import annotations

import re

# A line is code when it starts the way code lines start. Keywords are matched case-sensitively, so prose
# ("If you ...", "Print the ...") is not code.
_CODE_LINE = re.compile(r"""^\s*(?:
    (?:def|class)\s+\w+\s*[(:]                                   # definitions
  | import\s+[\w.]+(?:\s+as\s+\w+)?\s*$ | from\s+[\w.]+\s+import\s
  | (?:return|yield|raise|del|print|assert|global|nonlocal|lambda)(?:\s*$|\s*[(\[\w'"])
  | (?:continue|break|pass|else|try|finally)\s*:?\s*$
  | (?:elif|except|while|with)\b.*:\s*$
  | for\s+[\w, ()]+\s+in\s+.+:\s*$
  | if\s+.+:\s*$
  | (?:let|const|var|function)\s+[\w$]+
  | [A-Za-z_][\w.]*(?:\[[^\]]*\])*\s*(?:,\s*[A-Za-z_]\w*\s*)*[-+*/%]?=(?!=)\s*\S   # assignment
  | [A-Za-z_][\w.]*\(.*\)\s*;?\s*$                               # a call alone on its line
  | </?[A-Za-z!][^>]*>                                           # markup
  | [}\]);]+[;,]?\s*$ | [{\[(]\s*$
  | ["'][^"']*["']\s*:\s*\S.*$                                # a "key": value entry
  | //|/\*|\#include\b|\#!
)""", re.X)

# Formulas: operands of at most two letters (variables, function names like "ln") joined by operators.
_FORMULA_CHARS = re.compile(r"^[\s\w().^*/+\-–−×÷=<>²³,.]+$")
_OPERATOR = re.compile(r"[*/^=+×÷<>]|\w\s*[-–−]\s*[\w(]")
_LETTER_RUN = re.compile(r"[^\W\d_]+")

#: literal backslash-n, as some datasets store multi-line code in one line
LITERAL_NEWLINE = "\\n"


def looks_like_code(line: str) -> bool:
    """True for one line of source code (Python, JavaScript, HTML, C-like)."""
    return bool(line.strip()) and _CODE_LINE.match(line) is not None


def is_formula(line: str) -> bool:
    """True for an expression such as ``(a+b)*(a-b)`` or ``a^2 – 2*a*b + b^2``: no word to translate."""
    text = line.strip()
    if not text or not _FORMULA_CHARS.match(text) or not _OPERATOR.search(text):
        return False
    runs = _LETTER_RUN.findall(text)
    return bool(runs) and all(len(run) <= 2 for run in runs)


def _code_share(lines: list[str]) -> tuple[int, int]:
    """(code lines, non-empty lines); lines inside a triple-quoted string count as code."""
    code = filled = 0
    in_string = False
    for line in lines:
        if not line.strip():
            continue
        filled += 1
        opens = (line.count('"""') + line.count("'''")) % 2 == 1
        code += in_string or looks_like_code(line) or is_formula(line)
        in_string ^= opens
    return code, filled


def is_code_field(text: str) -> bool:
    """True when a whole field value is a program or formula: most of its lines are code.

    Literal ``\\n`` counts as a line break here, so ``for x in range(6):\\n  print(x)`` is one program, not
    prose with odd characters. A single line must itself look like code or a formula.
    """
    lines = text.split("\n")
    if LITERAL_NEWLINE in text:
        lines = [part for line in lines for part in line.split(LITERAL_NEWLINE)]
    code, filled = _code_share(lines)
    if filled == 0:
        return False
    if filled == 1:
        return code == 1
    return code * 2 >= filled and code >= 1


def is_table_row(line: str) -> bool:
    """A row of a plain-text table: cells separated by tabs or by at least two ``|``."""
    return "\t" in line.strip() or line.count("|") >= 2


def comment_start(line: str) -> int | None:
    """Where a ``#`` or ``//`` comment starts in a code line (outside string literals), or None."""
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" or line.startswith("//", i):
            return i
        i += 1
    return None


# Identifiers and expressions whose spelling must survive an engine: dotted names, calls, snake_case,
# camelCase, and operator expressions between one- or two-letter operands.
_CODE_TOKEN = re.compile(r"""
    [A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+        # re.match, self.name
  | [A-Za-z_]\w*(?=\()                      # print(, Counter(
  | \b[a-z]\w*_\w+                          # snake_case
  | \b[a-z]+[A-Z]\w*                        # camelCase
  | (?:\(?\b\w{1,2}\b\)?\s*[*/^+]\s*)+\(?\b\w{1,2}\b\)?   # a+b, 2*a*b, (a+b)*(a-b)
""", re.X)


def code_tokens(text: str) -> list[str]:
    """The code-like tokens of a text, in order (what :func:`checks.check_code` requires to be kept)."""
    tokens = []
    for line in text.split("\n"):
        if looks_like_code(line) or is_formula(line):
            tokens.append(line.strip())
            continue
        tokens += [m.group(0).strip() for m in _CODE_TOKEN.finditer(line)
                   if re.search(r"[._(*/^+]|[a-z][A-Z]", m.group(0))]
    return tokens
