"""The "demo" answers of the loopback model server: a stand-in for ``vllm serve`` that lets every babelvl job run
offline (the README's pipeline, its test, people trying babelvl without a GPU).

It is a test double for a remote model server, and its answers are toys: translations come from the word-by-word
toy translator; a PixMo caption or CoSyn QA request is answered, in the language the request asks for, with the
instruction sentence of that language pack's own prompt (so it passes the language checks of any pack, including
ones a user adds, without babelvl knowing the language); anything else (an evaluation question) gets "A".
"""

from __future__ import annotations

import json
from functools import lru_cache

from babelvl.testing.toy_translator import toy_translate


@lru_cache(maxsize=1)
def _pixmo_instructions() -> tuple[tuple[str, str, str], ...]:
    """(kind, marker, sentence) per pack: ``marker`` finds the request's language, ``sentence`` answers it."""
    from babelvl.languages import available_languages, load_language

    found = []
    for code in available_languages():
        prompts = load_language(code).extra.get("pixmo") or {}
        for kind in ("caption_prompt", "cosyn_qa_prompt"):
            template = prompts.get(kind)
            if not template:
                continue
            last = template.strip().splitlines()[-1]
            marker = last.split("{")[0].strip() or last
            sentence = last.split(". ")[0].replace("{n} ", "").replace("{n}", "").strip().rstrip(".")
            found.append((kind, marker, sentence))
    # longest markers first, so one language's instruction is never mistaken for a prefix of another's
    return tuple(sorted(found, key=lambda t: -len(t[1])))


def demo_answer(prompt: str, images: list[bytes]) -> str:
    for kind, marker, sentence in _pixmo_instructions():
        if marker and marker in prompt:
            if kind == "caption_prompt":
                return f"{sentence}."
            return json.dumps([{"question": f"{sentence} ?", "explanation": sentence, "answer": sentence}],
                              ensure_ascii=False)
    translated = toy_translate(prompt, images)
    return "A" if translated == "?" else translated
