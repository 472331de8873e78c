"""Answer parsing: the multilingual babelvl parser and the lmms-eval / VLMEvalKit compatibility modes."""

from __future__ import annotations

import pytest

from babelvl.languages import load_language
from babelvl.parsing import PARSERS, Parsed, parse_answer

OPTIONS = {
    "en": {"A": "cat", "B": "dog", "C": "bird", "D": "fish"},
    "fr": {"A": "chat", "B": "chien", "C": "oiseau", "D": "poisson"},
    "de": {"A": "Katze", "B": "Hund", "C": "Vogel", "D": "Fisch"},
    "it": {"A": "gatto", "B": "cane", "C": "uccello", "D": "pesce"},
    "es": {"A": "gato", "B": "perro", "C": "pájaro", "D": "pez"},
}


def choice(text: str, lang: str = "en", options: dict[str, str] | None = None, **kw) -> Parsed:
    opts = OPTIONS[lang] if options is None else options
    return parse_answer(text, kind="choice", options=opts, pack=load_language(lang), **kw)


def yesno(text: str, lang: str = "en", **kw) -> Parsed:
    return parse_answer(text, kind="yesno", options={}, pack=load_language(lang), **kw)


# --- babelvl: multiple choice ----------------------------------------------------------------------

@pytest.mark.parametrize("lang, text, expected", [
    ("en", "B", "B"),
    ("en", "B.", "B"),
    ("en", "(B)", "B"),
    ("en", "B) dog", "B"),
    ("en", "[B]", "B"),
    ("en", "**B**", "B"),
    ("en", "**B.** dog", "B"),
    ("en", "`C`", "C"),
    ("en", "'B'", "B"),
    ("en", "B: dog", "B"),
    ("en", "b)", "B"),
    ("en", "(c)", "C"),
    ("en", "d", "D"),
    ("en", "  C  \n", "C"),
    ("en", "Option B", "B"),
    ("en", "option c", "C"),
    ("en", "The answer is B", "B"),
    ("en", "The correct answer is: **C**", "C"),
    ("en", "The answer is B because it barks.", "B"),
    ("en", "Answer: D", "D"),
    ("en", "answer: (a)", "A"),
    ("en", "\\boxed{C}", "C"),
    ("en", "B is correct", "B"),
    ("en", "A. cat\nB. dog\nThe answer is B", "B"),
    ("en", "B. The answer is B.", "B"),
    ("en", "The answer is B. A is wrong because cats do not bark.", "B"),
    ("fr", "La réponse est C", "C"),
    ("fr", "La bonne réponse est (B).", "B"),
    ("fr", "la reponse est d", "D"),
    ("fr", "Réponse : A", "A"),
    ("fr", "Option B", "B"),
    ("de", "Antwort: D", "D"),
    ("de", "Die richtige Antwort ist (c)", "C"),
    ("de", "Die Antwort lautet B.", "B"),
    ("de", "B) Hund", "B"),
    ("it", "Risposta: B", "B"),
    ("it", "La risposta corretta è la B.", "B"),
    ("it", "La risposta è C", "C"),
    ("it", "Opzione A", "A"),
    ("es", "Respuesta: (A)", "A"),
    ("es", "La respuesta correcta es la opción C", "C"),
    ("es", "La respuesta es b", "B"),
    ("es", "Opción D", "D"),
])
def test_choice_letters_in_all_languages(lang, text, expected):
    assert choice(text, lang) == Parsed(expected, "ok")


@pytest.mark.parametrize("lang, text, options", [
    ("it", "A destra del tavolo", {"A": "sinistra", "B": "sopra", "C": "sotto"}),
    ("es", "A la izquierda", {"A": "arriba", "B": "abajo"}),
    ("en", "A small animal", {"A": "cat", "B": "dog"}),
    ("en", "A dog", {"A": "cat", "B": "bird"}),
    ("de", "A dog is sitting there", {"A": "cat", "B": "bird"}),    # English words read for every item
    ("fr", "A gauche", {"A": "droite", "B": "haut"}),
    ("it", "E poi si vede un albero", {"A": "gatto", "E": "cane"}),
    ("it", "C'è un gatto", {"A": "cane", "C": "uccello"}),
    ("en", "I think so", {"A": "x", "I": "y"}),
])
def test_article_or_preposition_is_not_a_letter(lang, text, options):
    assert choice(text, lang, options) == Parsed(None, "unparseable")


@pytest.mark.parametrize("lang, text, options, expected", [
    ("en", "A dog", {"A": "cat", "B": "dog"}, "B"),
    ("it", "A destra del tavolo", {"A": "A sinistra", "B": "A destra"}, "B"),
    ("es", "A la izquierda", {"A": "A la derecha", "B": "A la izquierda"}, "B"),
    ("en", "B dog", {"A": "cat", "B": "dog"}, "B"),
])
def test_article_followed_by_option_text(lang, text, options, expected):
    assert choice(text, lang, options).prediction == expected


@pytest.mark.parametrize("lang, text, expected", [
    ("en", "dog", "B"),
    ("en", "Dog.", "B"),
    ("en", "It is a bird.", "C"),
    ("fr", "Oiseau", "C"),
    ("fr", "C'est un chien.", "B"),
    ("de", "Es ist eine Katze.", "A"),
    ("it", "pesce", "D"),
    ("es", "Pajaro", "C"),           # accents ignored
    ("es", "Es un perro.", "B"),
])
def test_option_text_echoed(lang, text, expected):
    assert choice(text, lang) == Parsed(expected, "ok")


def test_longest_option_text_wins():
    options = {"A": "red", "B": "dark red", "C": "blue"}
    assert choice("Dark red", options=options).prediction == "B"
    assert choice("It is dark red.", options=options).prediction == "B"
    assert choice("red", options=options).prediction == "A"


def test_option_text_that_contains_a_capital_letter():
    options = {"A": "Vitamin A", "B": "Vitamin C", "C": "Iron"}
    assert choice("Vitamin C", options=options).prediction == "B"
    assert choice("C", options=options).prediction == "C"


def test_single_letter_option_texts_still_read_letters():
    options = {"A": "B", "B": "D", "C": "A", "D": "C"}  # AI2D-style diagram labels
    assert choice("C", options=options).prediction == "C"
    assert choice("The answer is B", options=options).prediction == "B"
    assert choice("B is correct", options=options).prediction == "B"


@pytest.mark.parametrize("lang, text", [
    ("en", "A. cat B. dog"),
    ("en", "B or C"),
    ("en", "(A) or (D)"),
    ("fr", "La réponse est B ou C"),
    ("de", "Antwort: A, Antwort: B"),
    ("en", "cat and dog"),             # two option texts
    ("en", "E"),                       # not one of the options
    ("en", "The answer is F."),
    ("en", "Something else entirely"),
    ("it", "Nessuna delle precedenti"),
])
def test_ambiguous_or_unreadable_choice(lang, text):
    assert choice(text, lang) == Parsed(None, "unparseable")


@pytest.mark.parametrize("lang, text", [
    ("en", "I cannot answer this question."),
    ("en", "Sorry, I can't tell from the image."),
    ("fr", "Je ne peux pas répondre à cette question."),
    ("fr", "Désolé, je ne sais pas."),
    ("de", "Es tut mir leid, das kann ich nicht sagen."),
    ("de", "Ich weiß nicht."),
    ("it", "Mi dispiace, non posso rispondere."),
    ("it", "Non lo so"),
    ("es", "Lo siento, no puedo responder."),
    ("es", "No lo sé"),
    ("it", "I cannot determine the answer."),   # English refusals are read for every language
])
def test_choice_refusals(lang, text):
    assert choice(text, lang) == Parsed(None, "refusal")


def test_letter_wins_over_refusal_phrase():
    assert choice("I'm not sure, but I would say B.").prediction == "B"


def test_options_restrict_letters():
    options = {"A": "cat", "B": "dog"}
    assert choice("C", options=options).status == "unparseable"
    assert choice("B, not C", options=options).prediction == "B"


# --- babelvl: yes / no -----------------------------------------------------------------------------

@pytest.mark.parametrize("lang, text, expected", [
    ("en", "Yes", "yes"),
    ("en", "yes.", "yes"),
    ("en", "No", "no"),
    ("en", "NO!", "no"),
    ("en", "**Yes**", "yes"),
    ("en", "Yes, there is a cat", "yes"),
    ("en", "No, there is not", "no"),
    ("en", "No, I cannot see a dog.", "no"),
    ("en", "Answer: yes", "yes"),
    ("en", "The answer is no.", "no"),
    ("en", "I think so, yes.", "yes"),
    ("en", "Looking at the image carefully, the answer is no.", "no"),
    ("en", "There is no cat in the image.", "no"),
    ("en", "The dog isn't on the sofa.", "no"),
    ("fr", "Oui.", "yes"),
    ("fr", "oui", "yes"),
    ("fr", "Ouais", "yes"),
    ("fr", "Non.", "no"),
    ("fr", "Non, il n'y a pas de chat.", "no"),
    ("fr", "Réponse : oui", "yes"),
    ("fr", "Il n'y a pas de chat dans l'image.", "no"),
    ("fr", "Yes", "yes"),
    ("de", "JA!", "yes"),
    ("de", "Ja, es gibt eine Katze.", "yes"),
    ("de", "Nein.", "no"),
    ("de", "Nein, es gibt keinen Hund.", "no"),
    ("de", "Es gibt keine Katze auf dem Bild.", "no"),
    ("de", "Antwort: ja", "yes"),
    ("it", "Sì", "yes"),
    ("it", "si", "yes"),
    ("it", "SÌ.", "yes"),
    ("it", "Sì, c'è un gatto.", "yes"),
    ("it", "No.", "no"),
    ("it", "Non c'è nessun gatto.", "no"),
    ("it", "Risposta: no", "no"),
    ("es", "Sí", "yes"),
    ("es", "Si", "yes"),
    ("es", "Sí, hay un perro", "yes"),
    ("es", "No, no hay ningún perro.", "no"),
    ("es", "No hay ningún gato en la imagen.", "no"),
    ("es", "Respuesta: sí", "yes"),
])
def test_yesno_in_all_languages(lang, text, expected):
    assert yesno(text, lang) == Parsed(expected, "ok")


@pytest.mark.parametrize("lang, text", [
    ("en", "I'm sorry, I can't determine that from the image."),
    ("fr", "Je ne sais pas."),
    ("de", "Es tut mir leid, ich kann das nicht erkennen."),
    ("it", "Non posso dirlo con certezza."),
    ("it", "Non lo so."),
    ("es", "No sé."),
    ("es", "Lo siento, no puedo verlo."),
])
def test_yesno_refusals(lang, text):
    assert yesno(text, lang) == Parsed(None, "refusal")


@pytest.mark.parametrize("lang, text", [
    ("en", "Yes and no"),
    ("en", "yes/no"),
    ("fr", "Oui ou non"),
    ("en", "Yes, no doubt"),                         # three words or fewer with both: ambiguous
    ("en", "A cat on the sofa."),                    # no yes/no word, no negation, no affirmation
])
def test_yesno_unparseable(lang, text):
    assert yesno(text, lang) == Parsed(None, "unparseable")


def test_item_language_and_english_only():
    # German "ja" is not read for a Spanish item; English always is.
    assert yesno("Ja", "es").status == "unparseable"
    assert yesno("Yes", "es").prediction == "yes"
    assert yesno("Oui", "it").status == "unparseable"


# --- dispatch ----------------------------------------------------------------------------------------

def test_parser_modes_listed():
    assert PARSERS == ("babelvl", "lmms-eval", "vlmevalkit", "pope-official", "mme-official")


def test_unknown_mode_lists_the_modes():
    with pytest.raises(ValueError) as err:
        yesno("Yes", mode="gpt-judge")
    for mode in PARSERS:
        assert mode in str(err.value)


def test_lmms_eval_needs_a_known_benchmark():
    with pytest.raises(ValueError, match="pope"):
        yesno("Yes", mode="lmms-eval")
    with pytest.raises(ValueError):
        yesno("Yes", mode="lmms-eval", benchmark="mmmu")


def test_parsed_is_frozen():
    parsed = Parsed("A", "ok")
    with pytest.raises(AttributeError):
        parsed.prediction = "B"  # type: ignore[misc]


# --- lmms-eval compatibility -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Yes", "yes"),
    ("no.", "no"),
    ("Yes, there is a cat.", "yes"),
    ("y", "yes"),
    ("None of them", "no"),     # "no" in the first four characters
    ("Non", "no"),              # French "non" happens to start with "no"
    ("Oui", None),              # documented difference: not read by lmms-eval
    ("Ja", None),
    ("Sì", None),
    ("There is no cat", None),  # only the first four characters are looked at
])
def test_lmms_eval_mme(text, expected):
    parsed = yesno(text, mode="lmms-eval", benchmark="mme")
    assert parsed.prediction == expected
    assert parsed.status == ("ok" if expected else "unparseable")


def test_lmms_eval_mme_differs_from_babelvl_on_french():
    assert yesno("Oui", "fr").prediction == "yes"
    assert yesno("Oui", "fr", mode="lmms-eval", benchmark="mme").status == "unparseable"


@pytest.mark.parametrize("text, expected", [
    ("yes", "yes"), (" No ", "no"), ("YES", "yes"), ("Yes.", None), ("Yes, there is", None), ("oui", None),
])
def test_lmms_eval_pope_is_exact_match(text, expected):
    assert yesno(text, mode="lmms-eval", benchmark="pope").prediction == expected


@pytest.mark.parametrize("text, expected", [
    ("B", "B"), ("b", "B"), ("B. dog", "B"), ("B.", "B"),
    ("B) dog", None), ("(B)", None), ("The answer is B", None), ("dog", None),
])
def test_lmms_eval_scienceqa(text, expected):
    assert choice(text, mode="lmms-eval", benchmark="scienceqa_img").prediction == expected


@pytest.mark.parametrize("text, expected", [
    ("B", "B"), ("(B)", "B"), ("b", "B"), ("B. dog", "B"), (" C.", "C"),
    ("B) dog", None), ("The answer is B", None), ("dog", None),
])
def test_lmms_eval_ai2d(text, expected):
    assert choice(text, mode="lmms-eval", benchmark="ai2d").prediction == expected


@pytest.mark.parametrize("text, expected, status", [
    ("B", "B", "ok"),
    ("The answer is B", "B", "ok"),
    ("B) dog", "B", "ok"),
    ("(C) bird", "C", "ok"),
    ("dog", "B", "ok"),
    ("A dog sits there", "B", "ok"),          # bare "A" in a long answer is skipped, then option text
    ("La réponse est C", "C", "ok"),          # English-only, but a bare letter is still a letter
    ("cat and dog", None, "unparseable"),     # GPT judge in lmms-eval; never called here
    ("E", None, "unparseable"),               # lmms-eval reads E (A-E), which is not an option
    ("", None, "unparseable"),
])
def test_lmms_eval_mmbench_prefetch(text, expected, status):
    assert choice(text, mode="lmms-eval", benchmark="mmbench") == Parsed(expected, status)


def test_lmms_eval_checks_kind():
    with pytest.raises(ValueError):
        choice("B", mode="lmms-eval", benchmark="pope")


# --- VLMEvalKit compatibility ------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Yes", "yes"),
    ("Yes.", "yes"),
    ("No, there is not.", "no"),
    ("There is no cat", "no"),
    ("Yes and no", None),        # both words -> Unknown
    ("yes/no", None),
    ("Yes, there is no doubt about it.", None),    # babelvl: yes
    ("Oui", None),
    ("Sí", None),
    ("", None),
])
def test_vlmevalkit_yorn(text, expected):
    parsed = yesno(text, mode="vlmevalkit")
    assert parsed.prediction == expected
    assert parsed.status == ("ok" if expected else "unparseable")


def test_vlmevalkit_and_babelvl_differ_on_mixed_answers():
    text = "Yes, there is no doubt about it."
    assert yesno(text).prediction == "yes"            # the first word decides
    assert yesno(text, mode="vlmevalkit").status == "unparseable"


@pytest.mark.parametrize("text, expected, status", [
    ("B", "B", "ok"),
    ("(C)", "C", "ok"),
    ("**B**", "B", "ok"),
    ("The answer is B", "B", "ok"),
    ("A dog", "A", "ok"),                                        # babelvl: B (option text)
    ("dog", "B", "ok"),
    ("B. The dog is sitting on the left side of the sofa", None, "unparseable"),  # letter too early
    ("Dogs bark. Cats meow. So the bird flies. The answer is B. It is a dog.", "B", "ok"),  # _VERBOSE_ANSWER_RE
    ("Dogs bark, cats meow and birds fly. The correct answer is **C**, since", "C", "ok"),
    ("Dogs bark, cats meow and birds fly and fish swim. The answer is E.", None, "unparseable"),  # A-D only
    ("Cannot determine the answer", None, "refusal"),           # VLMEvalKit 'Z'
    ("Z", None, "refusal"),
    ("A or B", None, "unparseable"),
    ("", None, "unparseable"),
])
def test_vlmevalkit_can_infer(text, expected, status):
    assert choice(text, mode="vlmevalkit") == Parsed(expected, status)


def test_vlmevalkit_does_not_mutate_options():
    options = {"A": "Cat", "B": "Dog"}
    choice("dog", options=options, mode="vlmevalkit")
    assert options == {"A": "Cat", "B": "Dog"}
