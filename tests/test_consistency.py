from babelvl.eval.consistency import cross_lingual_consistency


def rec(item_id, prediction, correct):
    return {"id": item_id, "prediction": prediction, "correct": correct}


def test_consistency_against_english_hand_computed():
    en = [rec("1", "A", True), rec("2", "B", True), rec("3", "C", False), rec("4", "yes", True)]
    fr = [rec("1", "A", True), rec("2", "C", False), rec("3", "D", True), rec("4", None, False)]
    out = cross_lingual_consistency({"en": en, "fr": fr})
    assert out["reference"] == "en" and out["n_items"] == 4
    fr_m = out["per_language"]["fr"]
    assert fr_m["same_answer_as_reference"] == 0.25          # only item 1
    assert fr_m["right_in_reference_wrong_here"] == 2 / 3     # items 2 and 4 of the 3 right in English
    assert fr_m["wrong_in_reference_right_here"] == 1.0       # item 3
    assert out["all_languages_same_answer"] == 0.25
    assert out["all_languages_correct"] == 0.25


def test_only_shared_ids_are_compared_and_one_language_is_not_enough():
    en = [rec("1", "A", True), rec("2", "B", True)]
    de = [rec("2", "B", True), rec("9", "A", True)]
    out = cross_lingual_consistency({"en": en, "de": de})
    assert out["n_items"] == 1 and out["per_language"]["de"]["same_answer_as_reference"] == 1.0
    assert cross_lingual_consistency({"en": en})["n_items"] == 0
