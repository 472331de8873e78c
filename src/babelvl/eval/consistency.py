"""Cross-lingual consistency: does the model give the same answer to the same item in every language?

Items are matched by id (translated sets keep ids). English is the reference when present, else the
first language given. For each other language we report how often the prediction equals the
reference's, and how often the model is right in the reference but wrong in that language (the
"translation penalty") and the reverse.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence


def cross_lingual_consistency(records_by_language: Mapping[str, Sequence[Mapping[str, Any]]],
                              reference: str = "en") -> dict[str, Any]:
    languages = [lang for lang, recs in records_by_language.items() if recs]
    if len(languages) < 2:
        return {"n_items": 0, "note": "needs the same items in at least two languages"}
    ref = reference if reference in languages else languages[0]
    by_lang = {lang: {r["id"]: r for r in records_by_language[lang]} for lang in languages}
    shared = set.intersection(*(set(recs) for recs in by_lang.values()))
    if not shared:
        return {"n_items": 0, "reference": ref, "note": "no item id is shared by all languages"}

    def pred(lang: str, item_id: str) -> str | None:
        return by_lang[lang][item_id].get("prediction")

    all_agree = sum(1 for i in shared if len({pred(lang, i) for lang in languages}) == 1
                    and pred(ref, i) is not None)
    all_correct = sum(1 for i in shared if all(by_lang[lang][i]["correct"] for lang in languages))
    per_language: dict[str, Any] = {}
    for lang in languages:
        if lang == ref:
            continue
        ref_right = [i for i in shared if by_lang[ref][i]["correct"]]
        ref_wrong = [i for i in shared if not by_lang[ref][i]["correct"]]
        same = sum(1 for i in shared if pred(lang, i) is not None and pred(lang, i) == pred(ref, i))
        lost = sum(1 for i in ref_right if not by_lang[lang][i]["correct"])
        gained = sum(1 for i in ref_wrong if by_lang[lang][i]["correct"])
        per_language[lang] = {
            "n": len(shared),
            "same_answer_as_reference": same / len(shared),
            "right_in_reference_wrong_here": lost / len(ref_right) if ref_right else None,
            "wrong_in_reference_right_here": gained / len(ref_wrong) if ref_wrong else None,
            "n_right_in_reference_wrong_here": lost,
            "n_wrong_in_reference_right_here": gained,
        }
    return {"reference": ref, "languages": languages, "n_items": len(shared),
            "all_languages_same_answer": all_agree / len(shared),
            "all_languages_correct": all_correct / len(shared),
            "per_language": per_language}
