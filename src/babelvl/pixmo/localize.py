"""Find and rewrite the user-visible strings of dataset plotting code and of its data.

Localizing the image itself means translating the text a chart shows (titles, axis labels,
legends, annotations, tick and category labels, table cells) and rendering it again. Everything
else in the code must stay byte-for-byte: colors, markers, format specs, style names, file names,
and any string the program uses as a key (``df['Sales']``, ``x == 'Food'``, CSV headers, JSON
keys). So strings are chosen by where they appear, not by what they say:

* code: arguments of text-drawing calls (``set_title``, ``xlabel``, ``text``, ``annotate``,
  ``legend``, tick-label setters, ...), text keywords anywhere (``label=``, ``title=``,
  ``labels=``, ...), and list/dict literals assigned to variables (category names), unless one of
  their strings is also used as a key somewhere;
* data: JSON string values (never keys) and CSV cells (never the header row), skipping columns and
  keys that name colors, files, ids and the like.

Positions come from :mod:`tokenize` (character offsets and the quoting of each literal; ``ast``
columns are UTF-8 byte offsets), and every rewrite is verified by parsing again: a replacement that
would change anything but the chosen string values is refused.

Translations come from a model, so they are data, never code: each is written as a literal whose
``ast.literal_eval`` must give back exactly the translation, f-string and ``str.format`` fields
must be the original's (a translation cannot add ``{__import__('os')...}``), and the whole
rewritten tree must equal the original but for those string values
(tests/test_pixmo_localize_literals.py tries quotes, triple quotes, backslashes, newlines and
braces). The rewritten code still runs only in the sandbox (:mod:`babelvl.pixmo.sandbox`).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import string
import tokenize
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Mapping


@dataclass(frozen=True)
class StringLiteral:
    """One translatable string and where it sits in the code (or data) text.

    ``value`` is the key to translate. For an f-string it is a template that keeps each field as
    ``{expression}``; a translation must keep the same fields. ``start``/``end`` are character
    offsets covering the whole literal (prefix, quotes, every part of an implicit concatenation).
    """

    value: str
    start: int
    end: int
    line: int
    context: str
    """Why it is visible: ``"set_title"``, ``"label="``, ``"assign:labels"``, ``"csv:Country"``..."""
    kind: str = "plain"
    """``plain``, ``fstring``, ``format`` (a ``str.format`` template) or ``percent`` (``%`` format)."""


class LocalizeError(ValueError):
    """A rewrite failed verification (a bug here, never bad input): the text is left unchanged."""


# --- what counts as visible text -------------------------------------------------------------------

_ALL = None
# call name -> (positional indexes carrying text or _ALL, only list/tuple literals count)
_TEXT_CALLS: dict[str, tuple[tuple[int, ...] | None, bool]] = {
    **{name: ((0,), False) for name in (
        "title", "set_title", "suptitle", "supxlabel", "supylabel", "xlabel", "ylabel", "zlabel",
        "set_xlabel", "set_ylabel", "set_zlabel", "set_label", "set_text", "annotate",
        "set_xticklabels", "set_yticklabels", "set_zticklabels", "set_ticklabels", "table",
        "set_label_text", "set_window_title")},
    "text": ((2,), False), "figtext": ((2,), False), "text2D": ((2,), False),
    "legend": (_ALL, False),
    **{name: ((1,), False) for name in ("xticks", "yticks", "set_xticks", "set_yticks", "set_ticks")},
    # categorical axes: only literal lists, since plot(x, y, 'o-') takes a format string
    **{name: ((0,), True) for name in ("bar", "barh", "plot", "scatter", "stackplot", "stem",
                                       "fill_between", "broken_barh", "boxplot", "violinplot")},
}
_TEXT_KEYWORDS = {
    "label", "labels", "title", "xlabel", "ylabel", "zlabel", "text", "texts", "name", "names",
    "tick_label", "tick_labels", "xticklabels", "yticklabels", "colLabels", "rowLabels",
    "cellText", "legend_title", "title_text", "xaxis_title", "yaxis_title", "subtitle",
    "caption", "annotation_text", "suptitle",
}
_CALL_ONLY_KEYWORDS = {"s", "t"}  # text(s=...), suptitle(t=...)
_LABEL_TARGET = re.compile(r"title|label|text|name|caption|note|legend|header|annotation|message|"
                           r"description|categor|group|item|countr|region|month|day|season", re.I)
_STYLE_TARGET = re.compile(r"colou?r|palette|cmap|colormap|marker|linestyle|^ls$|style|font|family|"
                           r"hatch|file|path|fmt|format|dpi|size|weight|align|^loc|position|backend|"
                           r"theme|edge|face|shape|url|mode|engine|encoding|^cols?$|column|^keys?$|"
                           r"field|index|^ha$|^va$|kwargs|props|params|rc$|options", re.I)
_STYLE_KEYS = {
    "color", "colors", "colour", "c", "facecolor", "edgecolor", "fc", "ec", "alpha", "boxstyle",
    "pad", "ha", "va", "horizontalalignment", "verticalalignment", "family", "fontfamily",
    "fontname", "size", "fontsize", "weight", "fontweight", "style", "fontstyle", "linewidth", "lw",
    "linestyle", "ls", "marker", "markersize", "ms", "arrowstyle", "connectionstyle", "rotation",
    "zorder", "cmap", "hatch", "shape", "width", "height", "loc", "bbox", "transform", "format",
    "fmt", "id", "uuid", "url", "href", "src", "link", "image", "img", "icon", "file", "filename",
    "path", "hex", "rgb", "font", "symbol_color", "fill", "stroke", "class", "type_color", "code",
    "email", "phone", "unit_code", "iso", "iso_code", "sku", "key", "slug",
}

# --- what counts as a word (not a color, format, file name or style keyword) --------------------

_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_FUNC_COLOR = re.compile(r"(?:rgba?|hsla?)\s*\([^)]*\)", re.I)
_PREFIXED_COLOR = re.compile(r"C\d+|tab:[a-z]+|xkcd:[a-z ]+|css4:[a-z]+")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"
                           r"[diouxXeEfFgGcrsa%]")
_STRFTIME = re.compile(r"%[-_0^#]?[aAbBcdDfFgGhHIjmMnpSuUVwWxXyYzZ%]")
_BRACE_FIELD = re.compile(r"\{[^{}]*\}")
_MATH = re.compile(r"(?<!\\)\$(?:\\.|[^$\\])+\$")
_FILE = re.compile(r"[\w\-./\\]+\.(?:png|jpe?g|svg|pdf|gif|bmp|webp|tiff?|csv|tsv|json|txt|xlsx?|"
                   r"parquet|html?|ttf|otf|py|npy|eps)", re.I)
_URL = re.compile(r"(?:https?|ftp|file)://\S+|www\.\S+\.\S+", re.I)
_IDENTIFIER_LIKE = re.compile(r"[a-z0-9]+(?:[_.:\-][a-z0-9]+)*(?:[_.][a-z0-9]+)")
_KEY_VALUE_SPEC = re.compile(r"[\w.]+(?:\s*,\s*\w+\s*=\s*[\w.\-]+)+")  # 'round,pad=0.3', 'arc3,rad=.2'
_STYLE_WORDS = {
    "bold", "normal", "italic", "oblique", "light", "heavy", "semibold", "ultralight", "demibold",
    "center", "centre", "left", "right", "top", "bottom", "baseline", "center_baseline", "middle",
    "best", "upper left", "upper right", "lower left", "lower right", "upper center",
    "lower center", "center left", "center right", "tight", "none", "None", "auto", "equal", "off",
    "on", "both", "major", "minor", "horizontal", "vertical", "solid", "dashed", "dotted",
    "dashdot", "round", "square", "butt", "projecting", "miter", "bevel", "serif", "sans-serif",
    "monospace", "cursive", "fantasy", "data", "axes fraction", "figure fraction", "offset points",
    "offset pixels", "polar", "edge", "mid", "pre", "post", "step", "stepfilled", "bar",
    "barstacked", "linear", "log", "symlog", "logit", "nearest", "bilinear", "bicubic", "gouraud",
    "flat", "agg", "Agg", "default", "classic", "ggplot", "bmh", "fivethirtyeight", "grayscale",
    "fast", "png", "jpg", "jpeg", "svg", "pdf", "utf-8", "records", "index", "columns", "inner",
    "outer", "coerce", "ignore", "raise", "sum", "mean", "median", "count", "max", "min", "first",
    "last", "RGB", "RGBA", "upper", "lower", "in", "out", "inout", "full", "white", "black",
    "large", "small", "medium", "x-large", "xx-large", "x-small", "xx-small", "larger", "smaller",
    "anchor", "rainbow", "expand", "figure", "axes", "pixels", "points", "inches", "dots",
}
_FONT_NAMES = {
    "DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono", "Arial", "Helvetica", "Times New Roman",
    "Times", "Courier New", "Courier", "Comic Sans MS", "Georgia", "Verdana", "Roboto", "Calibri",
    "Liberation Sans", "Liberation Serif", "Trebuchet MS", "Palatino", "Garamond", "Impact",
    "Tahoma", "Segoe UI", "Open Sans", "Lato", "Montserrat", "Cambria", "Consolas", "Futura",
    "Gill Sans", "Lucida Grande", "Noto Sans", "Source Sans Pro", "STIXGeneral", "cmr10",
}
_DATA_SKIP_KEY = re.compile(r"(?:colou?rs?|hex|url|href|src|link|icon|image|img|filename|file|"
                            r"path|_id|uuid|email|phone|marker|font|style|cmap|hatch)$", re.I)
_MISSING_VALUES = {"NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "Null", "None", "none", "True",
                   "False", "TRUE", "FALSE", "true", "false", "#N/A", "-", "--", "<NA>", "-nan"}
_FMT_COLORS = set("bgrcmykw")
_FMT_MARKERS = set(".,ov^<>1234sp*hH+xXDd|_P8")


def is_translatable(text: str) -> bool:
    """True for words a reader sees; False for numbers, colors, format specs, files, style keys."""
    stripped = text.strip()
    if len(stripped) < 2 or not any(char.isalpha() for char in stripped):
        return False
    if (_HEX_COLOR.fullmatch(stripped) or _FUNC_COLOR.fullmatch(stripped)
            or _PREFIXED_COLOR.fullmatch(stripped) or _FILE.fullmatch(stripped)
            or _URL.fullmatch(stripped) or _KEY_VALUE_SPEC.fullmatch(stripped)):
        return False
    if stripped in _STYLE_WORDS or stripped in _named_colors() or _is_plot_format(stripped):
        return False
    rest = _MATH.sub("", _BRACE_FIELD.sub("", _STRFTIME.sub("", _PERCENT_SPEC.sub("", stripped))))
    return any(char.isalpha() for char in rest)


def _is_code_noise(text: str) -> bool:
    """Strings that only make sense as code arguments: identifiers, rc keys, cmaps, styles, fonts."""
    stripped = text.strip()
    return (bool(_IDENTIFIER_LIKE.fullmatch(stripped)) or stripped in _FONT_NAMES
            or stripped in _matplotlib_names() or stripped.startswith("seaborn"))


def _is_plot_format(text: str) -> bool:
    """matplotlib ``fmt`` strings: at most one color, one marker and one line style ('ro--')."""
    if len(text) > 4:
        return False
    seen: set[str] = set()
    index = 0
    while index < len(text):
        if text[index:index + 2] in ("--", "-."):
            kind, index = "line", index + 2
        elif text[index] in "-:":
            kind, index = "line", index + 1
        elif text[index] in _FMT_COLORS:
            kind, index = "color", index + 1
        elif text[index] in _FMT_MARKERS:
            kind, index = "marker", index + 1
        else:
            return False
        if kind in seen:
            return False
        seen.add(kind)
    return True


@lru_cache(maxsize=1)
def _named_colors() -> frozenset[str]:
    try:
        from matplotlib import colors
    except ImportError:  # matplotlib is a dependency; this keeps the filter usable without it
        return frozenset({"red", "green", "blue", "black", "white", "gray", "grey", "orange",
                          "purple", "yellow", "pink", "brown", "cyan", "magenta", "navy", "teal",
                          "skyblue", "lightblue", "darkblue", "lightgray", "darkgray", "gold"})
    return frozenset(set(colors.CSS4_COLORS) | set(colors.TABLEAU_COLORS))


@lru_cache(maxsize=1)
def _matplotlib_names() -> frozenset[str]:
    """Colormap and style-sheet names."""
    try:
        import matplotlib
        from matplotlib import style
    except ImportError:
        return frozenset()
    return frozenset(set(matplotlib.colormaps) | set(style.available))


# --- code: finding literals ------------------------------------------------------------------------

@dataclass
class _Candidate:
    node: ast.expr
    context: str
    kind: str
    structural: bool  # from a data literal: dropped when its value is also used as a key


class _Collector(ast.NodeVisitor):
    """Collects the string nodes that are drawn as text, in source order."""

    def __init__(self) -> None:
        self.found: dict[int, _Candidate] = {}
        self.docstrings: set[int] = set()

    # statements
    def visit_Module(self, node: ast.Module) -> None:
        self._docstring(node)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self._docstring(node)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign) -> None:
        self._assignment([_target_name(t) for t in node.targets], node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._assignment([_target_name(node.target)], node.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node.func)
        if name in _TEXT_CALLS:
            positions, lists_only = _TEXT_CALLS[name]
            for index, arg in enumerate(node.args):
                wanted = positions is _ALL or index in positions
                if wanted and (not lists_only or isinstance(arg, (ast.List, ast.Tuple))):
                    self._text(arg, name)
        for keyword in node.keywords:
            if keyword.arg in _TEXT_KEYWORDS or (keyword.arg in _CALL_ONLY_KEYWORDS
                                                  and name in _TEXT_CALLS):
                self._text(keyword.value, f"{keyword.arg}=")
        if name == "DataFrame" and node.args and isinstance(node.args[0], ast.Dict):
            self._literal(node.args[0], "DataFrame")
        self.generic_visit(node)

    # helpers
    def _docstring(self, node: ast.AST) -> None:
        body = getattr(node, "body", None)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            self.docstrings.add(id(body[0].value))

    def _add(self, node: ast.expr, context: str, kind: str, structural: bool) -> None:
        if id(node) not in self.found or (self.found[id(node)].structural and not structural):
            self.found[id(node)] = _Candidate(node, context, kind, structural)

    def _text(self, expr: ast.expr, context: str, structural: bool = False) -> None:
        """An expression whose value is displayed: take the string parts it is built from."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            self._add(expr, context, "plain", structural)
        elif isinstance(expr, ast.JoinedStr):
            self._add(expr, context, "fstring", structural)
        elif isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            for element in expr.elts:
                self._text(element, context, structural)
        elif isinstance(expr, ast.IfExp):
            self._text(expr.body, context, structural)
            self._text(expr.orelse, context, structural)
        elif isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            self._text(expr.left, context, structural)
            self._text(expr.right, context, structural)
        elif (isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mod)
              and isinstance(expr.left, ast.Constant) and isinstance(expr.left.value, str)):
            self._add(expr.left, context, "percent", structural)
        elif (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute)
              and expr.func.attr == "format" and isinstance(expr.func.value, ast.Constant)
              and isinstance(expr.func.value.value, str)):
            self._add(expr.func.value, context, "format", structural)

    def _assignment(self, names: list[str], value: ast.expr) -> None:
        if any(_STYLE_TARGET.search(name) for name in names if name):
            return
        label = next((name for name in names if name), "?")
        if isinstance(value, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
            self._literal(value, f"assign:{label}")
        elif any(_LABEL_TARGET.search(name) for name in names if name):
            self._text(value, f"assign:{label}", structural=True)

    def _literal(self, expr: ast.expr, context: str) -> None:
        """A data literal (category lists, label dicts): strings in it may be shown as labels."""
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            for element in expr.elts:
                self._literal(element, context)
        elif isinstance(expr, ast.Dict):
            keys = [k.value for k in expr.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            if any(key in _STYLE_KEYS or "." in key for key in keys):
                return  # keyword dicts (fontdict, bbox, rcParams) hold settings, not labels
            for key, value in zip(expr.keys, expr.values):
                if key is not None:
                    self._literal(key, context)
                self._literal(value, context)
        elif isinstance(expr, (ast.Constant, ast.JoinedStr)):
            self._text(expr, context, structural=True)


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _target_name(target: ast.expr) -> str:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        return str(target.slice.value)
    return ""


@dataclass
class _Found:
    literal: StringLiteral
    node: ast.expr
    prefix: str
    quote: str


def extract_strings(code: str, *, data: str | None = None) -> list[StringLiteral]:
    """The user-visible string literals of ``code``, in source order.

    ``data`` (the record's CSV or JSON) lets strings the code uses as column names or keys be
    recognised as such. Code that does not parse has nothing to localize: ``[]``.
    """
    return [found.literal for found in _find(code, data)]


def code_references(code: str) -> set[str]:
    """Strings the code uses other than as visible text (keys, comparisons, settings)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    collector = _Collector()
    collector.visit(tree)
    return _references(tree, collector)


def _references(tree: ast.AST, collector: _Collector) -> set[str]:
    chosen: set[int] = set()
    for candidate in collector.found.values():
        chosen.add(id(candidate.node))
        if isinstance(candidate.node, ast.JoinedStr):
            chosen.update(id(part) for part in candidate.node.values if isinstance(part, ast.Constant))
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in chosen and id(node) not in collector.docstrings}


def _find(code: str, data: str | None) -> list[_Found]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    collector = _Collector()
    collector.visit(tree)
    references = _references(tree, collector) | _data_keys(data)
    positions = _Positions(code)
    spans = _literal_token_spans(code, positions)
    found: list[_Found] = []
    for candidate in collector.found.values():
        if candidate.structural and _plain_value(candidate.node) in references:
            continue
        value = _candidate_value(candidate)
        if value is None or not _worth_translating(value, candidate.kind):
            continue
        start = positions.offset(candidate.node.lineno, candidate.node.col_offset)
        end = positions.offset(candidate.node.end_lineno or candidate.node.lineno,
                               candidate.node.end_col_offset or 0)
        if start not in spans or not any(token_end == end for token_end in spans[start][1]):
            continue  # positions do not line up with literal tokens: leave it alone
        prefix, quote = spans[start][0]
        literal = StringLiteral(value, start, end, candidate.node.lineno, candidate.context,
                                candidate.kind)
        found.append(_Found(literal, candidate.node, prefix, quote))
    found.sort(key=lambda item: item.literal.start)
    return found


def _plain_value(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _candidate_value(candidate: _Candidate) -> str | None:
    if isinstance(candidate.node, ast.JoinedStr):
        return _fstring_template(candidate.node)
    return _plain_value(candidate.node)


def _worth_translating(value: str, kind: str) -> bool:
    if kind == "fstring":
        parts = _split_template(value)
        text = "".join(part for is_field, part in parts or [] if not is_field)
        return parts is not None and is_translatable(text) and not _is_code_noise(text)
    return is_translatable(value) and not _is_code_noise(value)


class _Positions:
    """Converts (line, UTF-8 byte column) from ``ast`` and (line, column) from tokenize to offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [match.end() for match in re.finditer(r"\r\n|\r|\n", text)]

    def offset(self, line: int, byte_column: int) -> int:
        start = self.starts[line - 1]
        end = self.starts[line] if line < len(self.starts) else len(self.text)
        line_bytes = self.text[start:end].encode("utf-8")
        return start + len(line_bytes[:byte_column].decode("utf-8", errors="ignore"))

    def char_offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column


def _literal_token_spans(code: str, positions: _Positions) -> dict[int, tuple[tuple[str, str], list[int]]]:
    """Start offset of each string literal token -> ((prefix, quote), ends of it and the tokens
    implicitly concatenated after it). Handles 3.12+ f-strings (FSTRING_START ... FSTRING_END)."""
    tokens: list[tuple[int, int, str]] = []
    depth, fstring_start, fstring_head = 0, 0, ""
    fstring_start_type = getattr(tokenize, "FSTRING_START", None)
    fstring_end_type = getattr(tokenize, "FSTRING_END", None)
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if fstring_start_type is not None and token.type == fstring_start_type:
                if depth == 0:
                    fstring_start, fstring_head = positions.char_offset(*token.start), token.string
                depth += 1
            elif fstring_end_type is not None and token.type == fstring_end_type:
                depth -= 1
                if depth == 0:
                    tokens.append((fstring_start, positions.char_offset(*token.end), fstring_head))
            elif token.type == tokenize.STRING and depth == 0:
                tokens.append((positions.char_offset(*token.start), positions.char_offset(*token.end),
                               token.string))
    except (tokenize.TokenError, SyntaxError):
        return {}
    spans: dict[int, tuple[tuple[str, str], list[int]]] = {}
    for index, (start, _, head) in enumerate(tokens):
        ends: list[int] = []
        for later_start, later_end, _ in tokens[index:]:
            between = code[ends[-1]:later_start] if ends else ""
            if ends and not _only_whitespace_and_comments(between):
                break
            ends.append(later_end)
        spans[start] = (_prefix_and_quote(head), ends)
    return spans


def _only_whitespace_and_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("#") or line.strip() == "\\"
               for line in text.replace("\\\n", "\n").splitlines()) and "(" not in text


def _prefix_and_quote(token: str) -> tuple[str, str]:
    prefix = re.match(r"[A-Za-z]*", token).group(0)  # type: ignore[union-attr]
    rest = token[len(prefix):]
    quote = rest[:3] if rest[:3] in ('"""', "'''") else rest[:1]
    return prefix, quote


# --- code: rewriting literals ----------------------------------------------------------------------

def replace_strings(code: str, translations: Mapping[str, str], *, data: str | None = None) -> str:
    """``code`` with its visible literals replaced by their translations; nothing else changes.

    A translation is looked up by the literal's exact value, then by its stripped value (keeping
    the surrounding whitespace). It is skipped (the original stays) when it would drop or add
    placeholders (``{year}``, ``%d``, ``$math$``) or cannot be written as a literal. The result is
    re-parsed and compared with the original tree; :class:`LocalizeError` if anything else moved.
    """
    edits: list[tuple[int, int, str]] = []
    tree_edits: list[tuple[ast.expr, ast.expr]] = []
    for found in _find(code, data):
        new_value = _lookup(translations, found.literal.value)
        if new_value is None or new_value == found.literal.value:
            continue
        if not _placeholders_match(found.literal, new_value):
            continue
        source = _write_literal(found, new_value)
        if source is None:
            continue
        edits.append((found.literal.start, found.literal.end, source))
        tree_edits.append((found.node, ast.parse(source, mode="eval").body))
    if not edits:
        return code
    pieces: list[str] = []
    cursor = 0
    for start, end, source in edits:
        pieces.extend((code[cursor:start], source))
        cursor = end
    pieces.append(code[cursor:])
    new_code = "".join(pieces)
    _verify_code(code, new_code, tree_edits)
    return new_code


def _lookup(translations: Mapping[str, str], value: str) -> str | None:
    if value in translations:
        return translations[value]
    stripped = value.strip()
    if stripped and stripped != value and stripped in translations:
        lead = value[:len(value) - len(value.lstrip())]
        trail = value[len(value.rstrip()):]
        return lead + translations[stripped].strip() + trail
    return None


def _placeholders_match(literal: StringLiteral, new_value: str) -> bool:
    """The translation keeps every field, format spec and math segment of the original."""
    if Counter(_MATH.findall(literal.value)) != Counter(_MATH.findall(new_value)):
        return False
    if literal.kind == "fstring":
        old_parts, new_parts = _split_template(literal.value), _split_template(new_value)
        return (old_parts is not None and new_parts is not None
                and Counter(p.strip() for f, p in old_parts if f)
                == Counter(p.strip() for f, p in new_parts if f))
    if literal.kind == "format":
        return _format_fields(literal.value) == _format_fields(new_value)
    if literal.kind == "percent":
        return Counter(_PERCENT_SPEC.findall(literal.value)) == Counter(_PERCENT_SPEC.findall(new_value))
    return True


def _format_fields(text: str) -> Counter[str] | None:
    try:
        return Counter(f"{name}!{conversion}:{spec}"
                       for _, name, spec, conversion in string.Formatter().parse(text)
                       if name is not None)
    except ValueError:
        return None


def _write_literal(found: _Found, value: str) -> str | None:
    """Source for a literal with ``value``, in the original's quoting where possible."""
    if found.literal.kind == "fstring":
        return _write_fstring(found, value)
    prefix = found.prefix.lower()
    if "b" in prefix:
        return None
    keep = "u" if "u" in prefix else ""
    candidates = []
    if "r" in prefix and _raw_ok(value, found.quote):
        candidates.append(found.prefix + found.quote + value + found.quote)
    candidates.append(keep + found.quote + _escape(value, found.quote) + found.quote)
    candidates.append(repr(value))
    for source in candidates:
        try:
            if ast.literal_eval(source) == value:
                return source
        except (SyntaxError, ValueError):
            continue
    return None


def _raw_ok(value: str, quote: str) -> bool:
    if value.endswith(("\\", quote[0])) or quote in value:
        return False
    return len(quote) == 3 or not any(char in value for char in (quote, "\n", "\r"))


def _escape(value: str, quote: str, *, braces: bool = False) -> str:
    """Escape for a non-raw literal body; hand-written because repr() would pick its own quotes."""
    out = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif char == quote[0]:
            out.append("\\" + char)
        elif char == "\n":
            out.append("\n" if len(quote) == 3 else "\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif braces and char in "{}":
            out.append(char * 2)
        elif unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            out.append(repr(char)[1:-1])
        else:
            out.append(char)
    return "".join(out)


def _fstring_template(node: ast.JoinedStr) -> str | None:
    """An f-string as translator text: literal parts, with each field as ``{expression...}``."""
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            parts.append(value.value.replace("{", "{{").replace("}", "}}"))
        elif isinstance(value, ast.FormattedValue):
            field = _field_text(value)
            if field is None:
                return None
            parts.append("{" + field + "}")
        else:
            return None
    return "".join(parts)


def _field_text(value: ast.FormattedValue) -> str | None:
    expression = ast.unparse(value.value)
    if expression.startswith("{"):
        expression = f" {expression} "
    text = expression + (f"!{chr(value.conversion)}" if value.conversion != -1 else "")
    if value.format_spec is not None:
        spec = []
        for part in getattr(value.format_spec, "values", []):
            if isinstance(part, ast.Constant):
                spec.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                inner = _field_text(part)
                if inner is None:
                    return None
                spec.append("{" + inner + "}")
        text += ":" + "".join(spec)
    return text


def _split_template(text: str) -> list[tuple[bool, str]] | None:
    """[(is_field, text)] of an f-string template; None when braces do not balance."""
    parts: list[tuple[bool, str]] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in "{}" and text[index + 1:index + 2] == char:
            literal.append(char)
            index += 2
        elif char == "}":
            return None
        elif char == "{":
            depth, cursor = 1, index + 1
            while cursor < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[cursor], 0)
                cursor += 1
            if depth:
                return None
            if literal:
                parts.append((False, "".join(literal)))
                literal = []
            parts.append((True, text[index + 1:cursor - 1]))
            index = cursor
        else:
            literal.append(char)
            index += 1
    if literal:
        parts.append((False, "".join(literal)))
    return parts


def _write_fstring(found: _Found, template: str) -> str | None:
    parts = _split_template(template)
    old_parts = _split_template(found.literal.value) or []
    originals = {text.strip(): text for is_field, text in old_parts if is_field}
    if parts is None:
        return None
    wanted = [originals.get(text.strip()) for is_field, text in parts if is_field]
    fields = [field for field in wanted if field is not None]
    if len(fields) != len(wanted) or any("\\" in field for field in fields):
        return None
    for quote in dict.fromkeys((found.quote, "'", '"', "'''", '"""')):
        if any(quote[0] in field for field in fields):
            continue
        body = []
        for is_field, text in parts:
            body.append("{" + originals[text.strip()] + "}" if is_field
                        else _escape(text, quote, braces=True))
        source = "f" + quote + "".join(body) + quote
        if _same_fields(found.node, source):
            return source
    return None


def _same_fields(node: ast.expr, source: str) -> bool:
    try:
        new = ast.parse(source, mode="eval").body
    except SyntaxError:
        return False
    if not isinstance(new, ast.JoinedStr) or not isinstance(node, ast.JoinedStr):
        return False
    return _field_dumps(new) == _field_dumps(node)


def _field_dumps(joined: ast.JoinedStr) -> Counter[str]:
    return Counter(ast.dump(value) for value in joined.values if isinstance(value, ast.FormattedValue))


def _verify_code(old_code: str, new_code: str, tree_edits: list[tuple[ast.expr, ast.expr]]) -> None:
    """The new code's tree equals the old one with exactly the chosen literals swapped."""
    try:
        new_tree = ast.parse(new_code)
    except SyntaxError as exc:
        raise LocalizeError(f"rewritten code does not parse: {exc}") from exc
    expected = ast.parse(old_code)
    replacements = {_node_key(old): new for old, new in tree_edits}

    class _Swap(ast.NodeTransformer):
        def visit_Constant(self, node: ast.Constant) -> ast.AST:
            return replacements.get(_node_key(node), node)

        def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
            key = _node_key(node)
            return replacements[key] if key in replacements else self.generic_visit(node)

    expected = _Swap().visit(expected)
    if ast.dump(expected) != ast.dump(new_tree):
        raise LocalizeError("rewritten code differs from the original in more than the translated strings")


def _node_key(node: ast.expr) -> tuple[Any, ...]:
    """Identifies a literal node across two parses of the same source."""
    return (type(node).__name__, node.lineno, node.col_offset, node.end_lineno, node.end_col_offset,
            ast.dump(node))


# --- data: JSON and CSV ----------------------------------------------------------------------------

def data_format(data: str | None) -> str | None:
    """``"json"``, ``"csv"`` or None (nothing this module can localize safely)."""
    if not data or not data.strip():
        return None
    if data.strip()[:1] in ("{", "["):
        try:
            json.loads(data)
            return "json"
        except ValueError:
            pass
    rows = _csv_cells(data)
    if rows is None:
        return None
    shaped = [row for row in rows if row]
    if len(shaped) >= 2 and all(len(row) == len(shaped[0]) for row in shaped) and len(shaped[0]) > 1:
        return "csv"
    return None


def extract_data_strings(data: str, *, code: str | None = None) -> list[StringLiteral]:
    """Visible strings of the data: JSON values (not keys), CSV cells (not the header).

    ``code`` excludes strings the code uses as keys or in comparisons (``df[df.Type == 'Food']``).
    Offsets are into ``data``; ``context`` is ``json:<key>`` or ``csv:<column>``.
    """
    references = code_references(code) if code else set()
    return [item for item in _data_items(data) if _data_worth(item, references)]


def replace_data_strings(data: str, translations: Mapping[str, str], *,
                         code: str | None = None) -> str:
    """``data`` with its visible strings translated, every other byte unchanged; verified by re-parsing."""
    fmt = data_format(data)
    edits = []
    for item in extract_data_strings(data, code=code):
        new_value = _lookup(translations, item.value)
        if new_value is None or new_value == item.value:
            continue
        if Counter(_MATH.findall(item.value)) != Counter(_MATH.findall(new_value)):
            continue
        original = data[item.start:item.end]
        if fmt == "json":
            source = json.dumps(new_value, ensure_ascii="\\u" in original)
        else:
            source = _csv_cell(new_value, quoted=original.startswith('"'))
        edits.append((item.start, item.end, source, item.value, new_value))
    if not edits:
        return data
    pieces: list[str] = []
    cursor = 0
    for start, end, source, _, _ in edits:
        pieces.extend((data[cursor:start], source))
        cursor = end
    pieces.append(data[cursor:])
    new_data = "".join(pieces)
    _verify_data(data, new_data, fmt, {start: new for start, _, _, _, new in edits})
    return new_data


def _data_worth(item: StringLiteral, references: set[str]) -> bool:
    key = item.context.split(":", 1)[1].strip()
    if key.lower() in _STYLE_KEYS or _DATA_SKIP_KEY.search(key):
        return False
    value = item.value.strip()
    return (value not in references and item.value not in references
            and value not in _MISSING_VALUES and is_translatable(item.value))


def _data_items(data: str) -> list[StringLiteral]:
    fmt = data_format(data)
    if fmt == "json":
        return _json_items(data)
    if fmt == "csv":
        return _csv_items(data)
    return []


def _data_keys(data: str | None) -> set[str]:
    """Names the code may use as keys: JSON object keys, CSV header cells."""
    if not data:
        return set()
    fmt = data_format(data)
    if fmt == "json":
        keys: set[str] = set()

        def collect(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            keys.update(key for key, _ in pairs)
            return {}

        json.loads(data, object_pairs_hook=collect)
        return keys
    if fmt == "csv":
        header = next(row for row in _csv_cells(data) or [] if row)
        return {cell[2] for cell in header} | {cell[2].strip() for cell in header}
    return set()


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object as its (key, value) pairs, so duplicate keys keep their place."""


def _json_items(data: str) -> list[StringLiteral]:
    tokens = [token for token in _json_string_tokens(data) if not token[2]]
    values = list(_json_values(json.loads(data, object_pairs_hook=_Pairs), key=""))
    if len(tokens) != len(values):
        return []
    positions = _Positions(data)
    items = []
    for (start, end, _), (key, value) in zip(tokens, values):
        if json.loads(data[start:end]) != value:
            return []  # scanner and parser disagree: do not touch this data
        line = next(i for i in range(len(positions.starts), 0, -1) if positions.starts[i - 1] <= start)
        items.append(StringLiteral(value, start, end, line, f"json:{key}"))
    return items


def _json_values(node: Any, key: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, _Pairs):
        for child_key, child in node:
            yield from _json_values(child, child_key)
    elif isinstance(node, list):
        for child in node:
            yield from _json_values(child, key)
    elif isinstance(node, str):
        yield key, node


def _json_string_tokens(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_key) of each JSON string token.

    Hand-written because :mod:`json` reports no source positions; it only runs on text that
    ``json.loads`` accepted, and its result is cross-checked against the parsed values.
    """
    tokens = []
    index, length = 0, len(text)
    while index < length:
        if text[index] != '"':
            index += 1
            continue
        cursor = index + 1
        while cursor < length and text[cursor] != '"':
            cursor += 2 if text[cursor] == "\\" else 1
        end = cursor + 1
        after = end
        while after < length and text[after] in " \t\r\n":
            after += 1
        tokens.append((index, end, after < length and text[after] == ":"))
        index = end
    return tokens


def _csv_cells(text: str) -> list[list[tuple[int, int, str, bool]]] | None:
    """Rows of (start, end, value, quoted) cells, for comma-separated text as pandas reads it.

    Hand-written because :mod:`csv` reports no positions (and rewriting with ``csv.writer`` would
    re-quote untouched cells); the result must equal ``csv.reader``'s or it is discarded.
    """
    rows: list[list[tuple[int, int, str, bool]]] = []
    index, length = 0, len(text)
    while index < length:
        if text[index] in "\r\n":  # a blank line
            index += 2 if text.startswith("\r\n", index) else 1
            rows.append([])
            continue
        row = []
        while True:
            cell = _csv_cell_at(text, index)
            if cell is None:
                return None
            row.append(cell)
            index = cell[1]
            if index < length and text[index] == ",":
                index += 1
                continue
            break
        if index < length:
            index += 2 if text.startswith("\r\n", index) else 1
        rows.append(row)
    expected = list(csv.reader(io.StringIO(text, newline="")))
    if [[cell[2] for cell in row] for row in rows] != expected:
        return None
    return rows


def _csv_cell_at(text: str, start: int) -> tuple[int, int, str, bool] | None:
    """The cell starting at ``start``; it ends before the next comma, line break or the end."""
    length = len(text)
    if start >= length or text[start] != '"':
        cursor = start
        while cursor < length and text[cursor] not in ",\r\n":
            cursor += 1
        return start, cursor, text[start:cursor], False
    cursor, value = start + 1, []
    while True:
        if cursor >= length:
            return None  # unterminated quote
        if text[cursor] == '"':
            if text.startswith('""', cursor):
                value.append('"')
                cursor += 2
                continue
            cursor += 1
            break
        value.append(text[cursor])
        cursor += 1
    while cursor < length and text[cursor] not in ",\r\n":  # csv keeps text after a closing quote
        value.append(text[cursor])
        cursor += 1
    return start, cursor, "".join(value), True


def _csv_items(data: str) -> list[StringLiteral]:
    rows = _csv_cells(data) or []
    non_empty = [(number, row) for number, row in enumerate(rows, start=1) if row]
    if not non_empty:
        return []
    header = [cell[2].strip() for cell in non_empty[0][1]]
    items = []
    for _, row in non_empty[1:]:
        for column, (start, end, value, _) in enumerate(row):
            name = header[column] if column < len(header) else str(column)
            line = data.count("\n", 0, start) + 1
            items.append(StringLiteral(value, start, end, line, f"csv:{name}"))
    return items


def _csv_cell(value: str, *, quoted: bool) -> str:
    if quoted or any(char in value for char in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _verify_data(old: str, new: str, fmt: str | None, changes: dict[int, str]) -> None:
    if fmt == "json":
        items = _json_items(old)
        expected = [changes.get(item.start, item.value) for item in items]
        actual = [item.value for item in _json_items(new)]
        same_keys = _data_keys(old) == _data_keys(new)
        if actual != expected or not same_keys:
            raise LocalizeError("rewritten JSON differs from the original in more than the translated values")
    else:
        old_rows = [[changes.get(cell[0], cell[2]) for cell in row] for row in _csv_cells(old) or []]
        new_rows = [[cell[2] for cell in row] for row in _csv_cells(new) or []]
        if old_rows != new_rows:
            raise LocalizeError("rewritten CSV differs from the original in more than the translated cells")


__all__ = ["LocalizeError", "StringLiteral", "code_references", "data_format", "extract_data_strings",
           "extract_strings", "is_translatable", "replace_data_strings", "replace_strings"]
