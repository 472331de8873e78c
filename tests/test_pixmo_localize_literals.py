"""Model-translated strings enter CoSyn code only as literal values, never as code.

A translation engine is a model: its output may contain quotes, braces, backslashes, newlines or
text written to look like code. Whatever it returns, the rewritten program must have exactly the
same syntax tree as the original except for the chosen string values.
"""

from __future__ import annotations

import ast

import pytest

from babelvl.pixmo.localize import extract_strings, replace_strings

CODE = '''import matplotlib.pyplot as plt

def generate_plot(df):
    fig, ax = plt.subplots()
    year = 2024
    ax.set_title('Sales by Region')
    ax.set_xlabel(f"Revenue in {year}")
    ax.set_ylabel("Share of {}".format("total"))
    ax.legend(title="Legend %d" % 3)
    return fig
'''

HOSTILE = [
    "'); import os; os.system('touch /tmp/pwned'); ('",
    '"""\nimport os\nos.system("id")\n"""',
    "\\'); __import__('os').system('id') #",
    "{__import__('os').system('id')}",
    "x\n__import__('os').system('id')\n",
    "\x00\u2028\u2029\r'\"",
    "{year.__class__.__mro__}",
    "{0.__globals__}",
]


class _Blank(ast.NodeTransformer):
    """Every string value emptied: what is left is the code."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant("") if isinstance(node.value, str) else node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return ast.JoinedStr([self.generic_visit(v) for v in node.values if isinstance(v, ast.FormattedValue)])


def _calls(code: str) -> list[str]:
    tree = _Blank().visit(ast.parse(code))
    return sorted(ast.dump(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call))


def _non_string_dump(code: str) -> str:
    return ast.dump(_Blank().visit(ast.parse(code)))


@pytest.mark.parametrize("evil", HOSTILE)
def test_a_hostile_translation_stays_a_string_value(evil: str) -> None:
    texts = [s.value for s in extract_strings(CODE)]
    assert {"Sales by Region", "Revenue in {year}"} <= set(texts)
    translations = {text: evil if "{" not in text else evil + " {year}" for text in texts}
    translations["Share of {}"] = evil + " {}"
    new_code = replace_strings(CODE, translations)
    assert _calls(new_code) == _calls(CODE)  # no call was added (no os.system, no __import__)
    assert _non_string_dump(new_code) == _non_string_dump(CODE)  # only string values differ
    values = {node.value for node in ast.walk(ast.parse(new_code))
              if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    if "{" not in evil and "}" not in evil:
        assert evil in values  # inserted verbatim, as data


def test_f_string_fields_cannot_be_added_or_changed_by_a_translation() -> None:
    new_code = replace_strings(CODE, {"Revenue in {year}": "Umsatz {__import__('os').system('id')} {year}"})
    assert _calls(new_code) == _calls(CODE) and "__import__" not in new_code  # refused: fields must match
    assert _non_string_dump(new_code) == _non_string_dump(CODE)
    changed = replace_strings(CODE, {"Revenue in {year}": "Umsatz {{x}} im Jahr {year}"})
    assert _non_string_dump(changed) == _non_string_dump(CODE) and "Umsatz" in changed
