"""Language packs: the five shipped packs, lookup errors, and adding a language with a YAML file only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import babelvl.parsing.multilingual as multilingual
import babelvl.parsing.text as parsing_text
from babelvl.errors import InputError, UnknownLanguageError
from babelvl.languages import available_languages, load_language
from babelvl.parsing import parse_answer

CODES = ("en", "fr", "de", "it", "es")
INSTRUCTIONS = ("multiple_choice", "yes_no", "short_answer")
LABELS = ("hint", "question", "options", "answer")

PT_PACK = """\
code: pt
name: Português
instructions:
  multiple_choice: "Responda diretamente com a letra da opção entre as alternativas dadas."
  yes_no: "Por favor, responda sim ou não."
  short_answer: "Responda à pergunta com uma única palavra ou frase."
labels: {hint: Dica, question: Pergunta, options: Opções, answer: Resposta}
"yes": ["sim"]
"no": ["não"]
answer_prefixes: ["a resposta é", "a resposta correta é", "resposta"]
option_words: ["opção", "alternativa", "letra"]
refusals: ["não sei", "não posso", "desculpe"]
negations: ["não", "nenhum", "nenhuma", "nunca", "nada", "sem"]
word_letters: ["A", "E", "O"]
"""


@pytest.mark.parametrize("code", CODES)
def test_shipped_pack_is_complete(code):
    pack = load_language(code)
    assert pack.code == code and pack.name
    for key in INSTRUCTIONS:
        assert pack.instruction(key).strip(), key
    for key in LABELS:
        assert pack.labels.get(key), key
    for field in ("yes", "no", "answer_prefixes", "option_words", "refusals", "negations"):
        values = getattr(pack, field)
        assert values and all(isinstance(v, str) and v.strip() for v in values), field
    assert not set(pack.yes) & set(pack.no)
    assert Path(pack.source).name == f"{code}.yaml"


def test_english_reference_wording():
    en = load_language("en")
    assert en.instructions == {
        "multiple_choice": "Answer with the option's letter from the given choices directly.",
        "yes_no": "Please answer yes or no.",
        "short_answer": "Answer the question using a single word or phrase.",
    }
    assert (en.yes[0], en.no[0]) == ("yes", "no")
    assert en.labels == {"hint": "Hint", "question": "Question", "options": "Options", "answer": "Answer"}


@pytest.mark.parametrize("code, yes, no", [
    ("fr", "oui", "non"), ("de", "ja", "nein"), ("it", "sì", "no"), ("es", "sí", "no"),
])
def test_canonical_yes_no_words(code, yes, no):
    pack = load_language(code)
    assert (pack.yes[0], pack.no[0]) == (yes, no)


def test_instructions_are_translated():
    texts = {code: load_language(code).instruction("yes_no") for code in CODES}
    assert len(set(texts.values())) == len(CODES)


def test_all_packs_are_available():
    assert set(CODES) <= set(available_languages())


def test_unknown_code_names_the_available_ones():
    with pytest.raises(UnknownLanguageError) as err:
        load_language("xx")
    message = str(err.value)
    assert "'xx'" in message
    for code in CODES:
        assert code in message
    assert "BABELVL_LANGUAGE_PATH" in message


def test_user_pack_on_language_path_works_without_code_changes(tmp_path, monkeypatch):
    (tmp_path / "pt.yaml").write_text(PT_PACK, encoding="utf-8")
    monkeypatch.setenv("BABELVL_LANGUAGE_PATH", str(tmp_path))
    pt = load_language("pt")
    assert pt.code == "pt" and pt.instruction("yes_no") == "Por favor, responda sim ou não."
    assert "pt" in available_languages()

    options = {"A": "gato", "B": "cachorro", "C": "pássaro"}

    def choice(text):
        return parse_answer(text, kind="choice", options=options, pack=pt)

    def yesno(text):
        return parse_answer(text, kind="yesno", options={}, pack=pt)

    assert choice("A resposta é B").prediction == "B"
    assert choice("Resposta: (c)").prediction == "C"
    assert choice("Opção A").prediction == "A"
    assert choice("A resposta certa é o cachorro").prediction == "B"  # "A" is an article here
    assert choice("Não sei").status == "refusal"
    assert yesno("Sim.").prediction == "yes"
    assert yesno("NÃO, não há gato").prediction == "no"
    assert yesno("Nao").prediction == "no"                  # accents are optional
    assert yesno("Não há nenhum gato na imagem").prediction == "no"
    assert yesno("Desculpe, não posso ajudar").status == "refusal"
    assert yesno("Yes, there is a cat").prediction == "yes"  # English is always read too


def test_user_pack_overrides_nothing_else(tmp_path, monkeypatch):
    (tmp_path / "pt.yaml").write_text(PT_PACK, encoding="utf-8")
    monkeypatch.setenv("BABELVL_LANGUAGE_PATH", str(tmp_path))
    assert load_language("fr").code == "fr"


def test_pack_without_yes_names_file_and_field(tmp_path, monkeypatch):
    bad = PT_PACK.replace('"yes": ["sim"]\n', "").replace("code: pt", "code: xy")
    (tmp_path / "xy.yaml").write_text(bad, encoding="utf-8")
    monkeypatch.setenv("BABELVL_LANGUAGE_PATH", str(tmp_path))
    with pytest.raises(InputError) as err:
        load_language("xy")
    assert err.value.field == "yes"
    assert err.value.file.endswith("xy.yaml")
    assert "xy.yaml" in str(err.value) and "'yes'" in str(err.value)


def test_pack_with_empty_no_list_is_rejected(tmp_path, monkeypatch):
    bad = PT_PACK.replace('"no": ["não"]', '"no": []').replace("code: pt", "code: xz")
    (tmp_path / "xz.yaml").write_text(bad, encoding="utf-8")
    monkeypatch.setenv("BABELVL_LANGUAGE_PATH", str(tmp_path))
    with pytest.raises(InputError) as err:
        load_language("xz")
    assert err.value.field == "no"


def _code_strings(module) -> set[str]:
    """String literals of a module, docstrings excluded (those may quote examples)."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return {n.value.lower() for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings}


def test_parser_code_holds_no_language_words():
    words = set()
    for code in ("fr", "de", "it", "es"):
        pack = load_language(code)
        for field in ("yes", "no", "answer_prefixes", "option_words", "refusals", "negations"):
            words |= {w.lower() for w in getattr(pack, field) if len(w) >= 3}
    words -= {"option", "no"}  # shared with English / the canonical "no" prediction value
    literals = _code_strings(multilingual) | _code_strings(parsing_text)
    assert not {w for w in words if any(w in lit.split() or w == lit for lit in literals)}
