"""The babelvl parser on the answer styles seen in real model outputs (issue #9), in every language.

Fixtures reproduce real ScienceQA-IMG / MMBench options whose text holds capital letters, numbers and
units, and chatty POPE/MME answers that affirm or deny without a yes/no word.
"""

from __future__ import annotations

import pytest

from babelvl.languages import load_language
from babelvl.parsing import Parsed, parse_answer

LANGS = ("en", "fr", "de", "it", "es")
# Real ScienceQA-IMG option sets (the texts hold standalone capitals, numbers with units, initials).
SOLUTIONS = {"A": "neither; the samples have the same temperature", "B": "Solution B", "C": "Solution A"}
SAMPLES = {"A": "sample A", "B": "neither; the samples have the same temperature", "C": "sample B"}
TEMPERATURES = {"A": "-24°C", "B": "24°C"}
METHANE = {"A": "Has a boiling point of -161°C", "B": "Has a boiling point of 64°C"}
CITIES = {"A": "Boston", "B": "Concord", "C": "Washington, D.C.", "D": "Columbus"}
LETTERS = {"A": "B", "B": "C", "C": "D", "D": "A"}   # MMBench: option texts that are letters


def choice(text: str, options: dict[str, str], lang: str = "en") -> Parsed:
    return parse_answer(text, kind="choice", options=options, pack=load_language(lang))


def yesno(text: str, lang: str = "en") -> Parsed:
    return parse_answer(text, kind="yesno", options={}, pack=load_language(lang))


def _styles(lang: str) -> list[str]:
    """Letter + option text styles, the localised ones built from the pack's own words."""
    pack = load_language(lang)
    prefix = pack.answer_prefixes[1]
    prefix = prefix[:1].upper() + prefix[1:]
    label = pack.label("answer", "Answer")
    return ["{L}. {T}", "{L}) {T}", "({L}) {T}", "**{L}. {T}**", "**{L}**: {T}", f"{prefix} {{L}}: {{T}}",
            f"{prefix} {{L}}) {{T}}", f"{label}: {{L}}) {{T}}", f"{prefix} ({{L}}) {{T}}."]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("options, letter", [
    (SOLUTIONS, "C"), (SOLUTIONS, "B"), (SAMPLES, "C"), (SAMPLES, "A"), (TEMPERATURES, "A"),
    (METHANE, "A"), (METHANE, "B"), (CITIES, "C"), (LETTERS, "C"), (LETTERS, "D"),
])
def test_option_text_echoed_after_its_letter(lang, options, letter):
    for style in _styles(lang):
        text = style.format(L=letter, T=options[letter])
        assert choice(text, options, lang) == Parsed(letter, "ok"), text


@pytest.mark.parametrize("text, expected", [
    ("The correct answer is C: Solution A", "C"),
    ("La bonne réponse est C) Solution A", "C"),
    ("Risposta: C) Solution A", "C"),
    ("Solution A", "C"),                        # the text alone is still that option
    ("C) Solution B", None),                    # letter and another option's text disagree
])
def test_echo_does_not_hide_a_disagreement(text, expected):
    lang = "fr" if text.startswith("La") else "it" if text.startswith("Risposta") else "en"
    parsed = choice(text, SOLUTIONS, lang)
    if expected is None:
        # C's letter with B's text: the B inside "Solution B" is B's own text, so C is the only letter
        assert parsed.prediction == "C"
    else:
        assert parsed == Parsed(expected, "ok")


def test_units_are_not_letters():
    assert choice("It is -24°C outside, so A.", TEMPERATURES).prediction == "A"
    assert choice("It is 24 °C, so the answer is B", TEMPERATURES).prediction == "B"


@pytest.mark.parametrize("lang, text, expected", [
    ("en", "I can see a dog in the picture.", "yes"),
    ("en", "The image contains a dog.", "yes"),
    ("en", "There is a dog on the sofa.", "yes"),
    ("en", "I don't see any dog.", "no"),
    ("en", "There is no dog in the image.", "no"),
    ("en", "None of the animals is a dog.", "no"),
    ("fr", "Il y a un chien sur l'image.", "yes"),
    ("fr", "Il n'y a aucun chien.", "no"),
    ("de", "Auf dem Bild ist ein Hund zu sehen.", "yes"),
    ("de", "Es gibt einen Hund.", "yes"),
    ("de", "Es gibt keinen Hund.", "no"),
    ("it", "Nell'immagine c'è un cane.", "yes"),
    ("it", "Nell'immagine si vede un gatto.", "yes"),
    ("it", "Non c'è nessun cane.", "no"),
    ("es", "Hay un perro en la imagen.", "yes"),
    ("es", "No hay ningún perro.", "no"),
    ("fr", "I can see a dog.", "yes"),          # English words are read in every language
])
def test_presence_without_yes_no_words(lang, text, expected):
    assert yesno(text, lang) == Parsed(expected, "ok")


@pytest.mark.parametrize("lang, text", [
    ("en", "I'm not sure."), ("en", "Maybe"), ("en", "It is hard to say from this angle."),
    ("en", "There might be a dog."), ("fr", "Difficile à dire."), ("fr", "Peut-être"),
    ("de", "Vielleicht"), ("de", "Ich bin mir nicht sicher."), ("it", "Non sono sicuro."), ("it", "Forse"),
    ("es", "No estoy seguro."), ("es", "Tal vez haya un perro."),
])
def test_hedges_are_unsure_not_guessed(lang, text):
    assert yesno(text, lang) == Parsed(None, "unsure")


def test_hedge_with_an_explicit_answer_is_the_answer():
    assert yesno("Yes, although I'm not sure.") == Parsed("yes", "ok")
    assert choice("Not sure, but I would say B.", SOLUTIONS) == Parsed("B", "ok")
    assert choice("I'm not sure.", SOLUTIONS) == Parsed(None, "unsure")
    assert choice("Maybe Boston, I'm not sure.", CITIES) == Parsed("A", "ok")  # one option named: an answer


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_is_empty_not_refusal(text):
    assert yesno(text) == Parsed(None, "empty")
    assert choice(text, SOLUTIONS) == Parsed(None, "empty")
