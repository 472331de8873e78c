"""Translation checks: each check passes good output and names bad output, in all five languages."""

from __future__ import annotations

import dataclasses

import pytest

from babelvl.errors import InputError
from babelvl.languages import load_language
from babelvl.translate.checks import (
    BackTranslationCheck, NumberFormat, SegmentChecker, back_translation_chrf, check_language_id,
    check_length_ratio, check_options_distinct, check_placeholders, check_runaway,
    check_untranslated)
from babelvl.translate.langid import LanguageDetector, is_supported, too_short

CODES = ("en", "fr", "de", "it", "es")
SOURCE = "Which of the following animals lives in the ocean?"
# The same question in each language; lingua is confident on all of them (>= 0.9).
QUESTION = {
    "en": SOURCE,
    "fr": "Lequel des animaux suivants vit dans l'océan ?",
    "de": "Welches der folgenden Tiere lebt im Ozean?",
    "it": "Quale dei seguenti animali vive nell'oceano?",
    "es": "¿Cuál de los siguientes animales vive en el océano?",
}
OTHER = {"en": "fr", "fr": "de", "de": "it", "it": "es", "es": "en"}


@pytest.fixture(scope="module")
def packs():
    return {code: load_language(code) for code in CODES}


@pytest.fixture(scope="module")
def checker(packs):
    return SegmentChecker(packs["en"], [packs[c] for c in CODES[1:]])


def run(checker, packs, source, target, code, source_plain=None, target_plain=None):
    return checker.check(source, target, target=packs[code],
                         source_plain=source if source_plain is None else source_plain,
                         target_plain=target if target_plain is None else target_plain)


def names(results):
    return [r.check for r in results]


# --- the whole checker -----------------------------------------------------------------------------

@pytest.mark.parametrize("code", CODES[1:])
def test_good_translation_passes_every_check(checker, packs, code):
    assert run(checker, packs, SOURCE, QUESTION[code], code) == []


@pytest.mark.parametrize("code", CODES[1:])
@pytest.mark.parametrize("output", ["", "   \n"])
def test_empty_output_is_the_only_failure(checker, packs, code, output):
    results = run(checker, packs, SOURCE, output, code)
    assert names(results) == ["empty"]
    assert results[0].severity == "error"


def test_empty_source_has_nothing_to_check(checker, packs):
    assert run(checker, packs, "  ", "", "fr") == []


def test_skip_leaves_checks_out_and_rejects_unknown_names(packs):
    quiet = SegmentChecker(packs["en"], [packs["fr"]], skip=["language_id", "untranslated"])
    assert run(quiet, packs, SOURCE, SOURCE, "fr") == []
    with pytest.raises(ValueError, match="unknown checks"):
        SegmentChecker(packs["en"], [packs["fr"]], skip=["spelling"])


# --- language ID -----------------------------------------------------------------------------------

@pytest.mark.parametrize("code", CODES)
def test_language_id_passes_own_language_and_fails_another(checker, code):
    assert check_language_id(QUESTION[code], code, checker.detector) is None
    wrong = check_language_id(QUESTION[code], OTHER[code], checker.detector)
    assert wrong is not None and wrong.check == "language_id" and wrong.severity == "error"
    assert wrong.details["detected"] == code
    assert f"detected {code}, expected {OTHER[code]}" in wrong.reason


def test_french_question_passes_for_fr_and_fails_for_de(checker, packs):
    french = "Quelle est la couleur de la voiture ?"
    source = "What is the colour of the car?"
    assert "language_id" not in names(run(checker, packs, source, french, "fr"))
    assert "language_id" in names(run(checker, packs, source, french, "de"))


@pytest.mark.parametrize("code,text", [("en", "A cat."), ("fr", "Un chat."), ("de", "Eine Katze."),
                                       ("it", "Un gatto."), ("es", "Un gato.")])
def test_short_segments_skip_language_id(checker, code, text):
    assert too_short(text)
    assert check_language_id(text, OTHER[code], checker.detector) is None


def test_too_short_counts_words_and_letters_not_placeholders():
    assert too_short("⟦0⟧ ⟦1⟧ ⟦2⟧ Paris")
    assert too_short("a b c d e f")  # six words but only six letters
    assert not too_short("Lequel des animaux suivants vit dans l'océan ?")


def test_close_calls_between_related_languages_pass(checker):
    # lingua scores this Spanish sentence fr 0.40 / es 0.39: too close to call an error
    assert check_language_id("¿De qué color es el coche?", "es", checker.detector) is None


def test_unsupported_language_is_skipped_not_failed():
    assert not is_supported("tlh") and is_supported("fra") and is_supported("pt-BR")
    detector = LanguageDetector(["fr", "tlh"])
    assert not detector.supports("tlh")
    assert check_language_id(QUESTION["fr"], "tlh", detector) is None
    assert detector.detect(QUESTION["fr"])[0] == "fr"
    assert detector.detect("12345") == (None, 0.0)


# --- placeholders ----------------------------------------------------------------------------------

SRC_PH = "Which animal in ⟦0⟧ weighs ⟦1⟧ kg?"
TGT_PH = {
    "en": "Which animal in ⟦0⟧ has a weight of ⟦1⟧ kg?",
    "fr": "Quel animal dans ⟦0⟧ pèse ⟦1⟧ kg ?",
    "de": "Welches Tier in ⟦0⟧ wiegt ⟦1⟧ kg?",
    "it": "Quale animale in ⟦0⟧ pesa ⟦1⟧ kg?",
    "es": "¿Qué animal en ⟦0⟧ pesa ⟦1⟧ kg?",
}


@pytest.mark.parametrize("code", CODES)
def test_placeholders_kept_pass_even_reordered(code):
    assert check_placeholders(SRC_PH, TGT_PH[code]) is None
    assert check_placeholders(SRC_PH, TGT_PH[code].replace("⟦0⟧", "#").replace("⟦1⟧", "⟦0⟧")
                              .replace("#", "⟦1⟧")) is None


@pytest.mark.parametrize("code", CODES)
def test_placeholders_dropped_duplicated_invented_malformed(code):
    target = TGT_PH[code]
    dropped = check_placeholders(SRC_PH, target.replace("⟦1⟧", ""))
    assert dropped.details["missing"] == ["1"] and "missing ⟦1⟧" in dropped.reason
    duplicated = check_placeholders(SRC_PH, target + " ⟦0⟧")
    assert duplicated.details["duplicated"] == ["0"] and duplicated.details["missing"] == []
    invented = check_placeholders(SRC_PH, target + " ⟦7⟧")
    assert invented.details["invented"] == ["7"]
    malformed = check_placeholders(SRC_PH, target.replace("⟦0⟧", "⟦ 0 ⟧"))
    assert malformed.details["malformed"] and malformed.details["missing"] == ["0"]


# --- numbers ---------------------------------------------------------------------------------------

NUM_SRC = "The rope is 3.5 m long and holds 1,000 kg."
NUM_OK = {
    "en": ["The rope is 3.5 m long and can hold 1,000 kg."],
    "fr": ["La corde mesure 3,5 m et supporte 1 000 kg.", "La corde mesure 3,5 m et supporte 1\u00a0000 kg.",
           "La corde mesure 3,5 m et supporte 1\u202f000 kg.", "La corde mesure 3,5 m et supporte 1.000 kg."],
    "de": ["Das Seil ist 3,5 m lang und hält 1.000 kg.", "Das Seil ist 3,5 m lang und hält 1 000 kg."],
    "it": ["La corda è lunga 3,5 m e regge 1.000 kg.", "La corda è lunga 3,5 m e regge 1 000 kg."],
    "es": ["La cuerda mide 3,5 m y aguanta 1.000 kg.", "La cuerda mide 3,5 m y aguanta 1 000 kg."],
}
NUM_BAD = {
    "en": "The rope is 3,5 m long and holds 1,000 kg.",  # "3,5" is not 3.5 in English
    "fr": "La corde mesure 35 m et supporte 1 000 kg.",
    "de": "Das Seil ist 3,5 m lang und hält 100 kg.",
    "it": "La corda è lunga m e regge 1.000 kg.",
    "es": "La cuerda mide 3,6 m y aguanta 1.000 kg.",
}


@pytest.mark.parametrize("code", CODES)
def test_numbers_in_the_target_locale_pass(checker, packs, code):
    for target in NUM_OK[code]:
        assert "numbers" not in names(run(checker, packs, NUM_SRC, target, code)), target


@pytest.mark.parametrize("code", CODES)
def test_lost_or_changed_numbers_fail(checker, packs, code):
    results = [r for r in run(checker, packs, NUM_SRC, NUM_BAD[code], code) if r.check == "numbers"]
    assert len(results) == 1 and results[0].severity == "error"
    assert results[0].details["missing"] in (["3.5"], ["1,000"])


@pytest.mark.parametrize("code", CODES[1:])
def test_numbers_copied_as_written_and_masked_numbers_pass(checker, packs, code):
    # a number kept verbatim (version, year) is fine; masked numbers come back verbatim too
    source = "Python 3.10 was released in 2021."
    assert "numbers" not in names(run(checker, packs, source, f"Python 3.10 ({code}) 2021 ✓", code))
    assert "numbers" not in names(run(checker, packs, "It costs ⟦0⟧ euros.", "⟦0⟧ €", code,
                                      source_plain="It costs 3.5 euros.", target_plain="3.5 €"))


def test_number_count_matters_and_pack_without_format_is_lenient(packs):
    pt = dataclasses.replace(packs["fr"], code="pt", extra={})
    checker = SegmentChecker(packs["en"], [pt], skip=["language_id"])
    ok = checker.check("2 cats and 2 dogs", "2 gatos e 2 cães", target=pt,
                       source_plain="2 cats and 2 dogs", target_plain="2 gatos e 2 cães")
    assert "numbers" not in names(ok)
    lost = checker.check("2 cats and 2 dogs", "2 gatos e cães", target=pt,
                         source_plain="2 cats and 2 dogs", target_plain="2 gatos e cães")
    assert "numbers" in names(lost)
    for target in ("3,5 metros", "3.5 metros"):
        assert "numbers" not in names(checker.check("3.5 metres", target, target=pt,
                                                    source_plain="3.5 metres", target_plain=target))


def test_number_format_is_read_from_the_pack_and_validated(packs):
    assert NumberFormat.of(packs["de"]).decimal == ","
    assert NumberFormat.of(packs["en"]).thousands == (",",)
    bad = dataclasses.replace(packs["fr"], extra={"numbers": {"decimal": ",", "thousands": [","]}})
    with pytest.raises(InputError, match="numbers.thousands"):
        SegmentChecker(packs["en"], [bad])


# --- untranslated ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code", CODES[1:])
def test_untranslated_long_text_is_an_error(code):
    result = check_untranslated(SOURCE, SOURCE.upper().rstrip("?") + " ?")
    assert result is not None and result.severity == "error"
    assert check_untranslated(SOURCE, QUESTION[code]) is None


@pytest.mark.parametrize("code,translation", [("fr", "Oiseau"), ("de", "Vogel"), ("it", "Uccello"),
                                              ("es", "Pájaro")])
def test_untranslated_short_text_is_a_warning(code, translation):
    assert check_untranslated("Bird", "Bird").severity == "warning"
    assert check_untranslated("Bird", translation) is None


@pytest.mark.parametrize("text", ["New York", "Mona Lisa", "H2O", "x = f(y) + 2", "42", "⟦0⟧", "B"])
def test_names_codes_and_numbers_may_stay(text):
    assert check_untranslated(text, text) is None


# --- runaway ---------------------------------------------------------------------------------------

LOOPS = {
    "en": "Which animal lives in the ocean the ocean the ocean the ocean the ocean",
    "fr": "Quel animal vit dans l'océan l'océan l'océan l'océan",
    "de": "Welches Tier lebt im Ozean im Ozean im Ozean im Ozean?",
    "it": "Quale animale vive nell'oceano vive vive vive vive vive?",
    "es": "¿Qué animal vive en el océano el océano el océano el océano?",
}


@pytest.mark.parametrize("code", CODES)
def test_runaway_repetition_fails(code):
    result = check_runaway(SOURCE, LOOPS[code])
    assert result is not None and result.details["repeats"] >= 4
    assert check_runaway(SOURCE, QUESTION[code]) is None


@pytest.mark.parametrize("code", CODES)
def test_runaway_length_fails_and_suppresses_length_ratio(checker, packs, code):
    long = QUESTION[code] + " " + " ".join(f"Bla{i} truc{i}." for i in range(30))
    assert "limit" in check_runaway(SOURCE, long).reason
    if code != "en":
        found = names(run(checker, packs, SOURCE, long, code))
        assert "runaway" in found and "length_ratio" not in found


def test_runaway_catches_loops_without_spaces_and_spares_source_repeats():
    assert check_runaway("Laugh", "hahahahahahahahaha").details["repeats"] >= 8
    assert check_runaway("very very very very good", "molto molto molto molto buono") is None
    assert check_runaway("Dots .......... here", "Points .......... ici") is None


# --- length ratio ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code", CODES[1:])
def test_length_ratio_bounds(checker, packs, code):
    assert "length_ratio" not in names(run(checker, packs, SOURCE, QUESTION[code], code))
    short = QUESTION[code].split()[0] + " ?"
    result = [r for r in run(checker, packs, SOURCE, short, code) if r.check == "length_ratio"]
    assert result and result[0].details["bounds"] == [0.5, 2.5]
    assert "length_ratio" not in names(run(checker, packs, "Okay", "D'accord, très bien", code))


def test_length_ratio_bounds_per_pair_target_and_pack(packs):
    tight = SegmentChecker(packs["en"], [packs["fr"], packs["de"], packs["it"]],
                           length_ratio_bounds={"en-fr": (0.9, 1.1), "de": {"min": 0.5, "max": 0.8},
                                                "default": [0.1, 10]})
    assert tight.length_ratio_bounds(packs["fr"]) == (0.9, 1.1)
    assert tight.length_ratio_bounds(packs["de"]) == (0.5, 0.8)
    assert tight.length_ratio_bounds(packs["it"]) == (0.1, 10.0)
    es = dataclasses.replace(packs["es"], extra={**packs["es"].extra, "length_ratio": {"min": 1, "max": 2}})
    assert tight.length_ratio_bounds(es) == (1.0, 2.0)
    assert check_length_ratio(SOURCE, QUESTION["de"], (0.5, 0.8)).check == "length_ratio"
    with pytest.raises(InputError):
        SegmentChecker(packs["en"], [], length_ratio_bounds={"fr": (2, 1)})


# --- options ---------------------------------------------------------------------------------------

SRC_OPTIONS = ["cat", "kitten", "dog"]
COLLAPSED = {"en": ["cat", "Cat.", "dog"], "fr": ["chat", "Chat", "chien"], "de": ["Katze", "Katze", "Hund"],
             "it": ["gatto", "gatto", "cane"], "es": ["gato", "gato ", "perro"]}
DISTINCT = {"en": ["cat", "kitten", "dog"], "fr": ["chat", "chaton", "chien"],
            "de": ["Katze", "Kätzchen", "Hund"], "it": ["gatto", "gattino", "cane"],
            "es": ["gato", "gatito", "perro"]}


@pytest.mark.parametrize("code", CODES)
def test_options_that_collapse_are_named_by_letter(code):
    results = check_options_distinct(SRC_OPTIONS, COLLAPSED[code])
    assert len(results) == 1 and results[0].check == "options_distinct"
    assert results[0].details["letters"] == ["A", "B"] and "A and B" in results[0].reason
    assert check_options_distinct(SRC_OPTIONS, DISTINCT[code]) == []


def test_options_identical_in_the_source_may_stay_identical():
    assert check_options_distinct(["yes", "yes", "no"], ["oui", "oui", "non"]) == []
    assert check_options_distinct(["3.5", "35"], ["3,5", "35"]) == []
    assert check_options_distinct(["a", "b"], ["", ""]) == []  # empty output is the empty check's job
    with pytest.raises(ValueError):
        check_options_distinct(["a", "b"], ["a"])


# --- back-translation ------------------------------------------------------------------------------

def test_back_translation_chrf_ranks_faithful_above_unrelated():
    faithful, unrelated = back_translation_chrf(
        [SOURCE, SOURCE], ["Which of these animals lives in the sea?", "The car is parked near a red house."])
    assert faithful > unrelated
    results = BackTranslationCheck(threshold=30).check(
        [SOURCE, SOURCE], ["Which of the following animals live in the ocean?", "The car is red."])
    assert results[0] == []
    assert [r.check for r in results[1]] == ["back_translation"] and results[1][0].severity == "warning"
    with pytest.raises(ValueError):
        back_translation_chrf([SOURCE], [])
