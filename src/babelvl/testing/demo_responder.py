"""The "demo" answers of the loopback model server: a stand-in for ``vllm serve`` that lets every babelvl job run
offline (the README's commands, their test, people trying babelvl without a GPU).

It is a test double for a remote model server, and its answers are toys: translations are word by word from a
small dictionary (:data:`DEMO_WORDS`, enough for the sample data to pass the language checks); a PixMo caption or
CoSyn QA request is answered, in the language the request asks for, with the instruction sentence of that
language pack's own prompt (so it passes the checks of any pack, including ones a user adds, without babelvl
knowing the language); anything else (an evaluation question) gets "A".
"""

from __future__ import annotations

import json
from functools import lru_cache

from babelvl.testing.toy_translator import WORDS, toy_translate

_EXTRA = {
    "French": {"question": "question", "about": "sur", "what": "quelle", "shape": "forme", "shown": "montrée",
               "square": "carré", "circle": "cercle", "answer": "réponse", "on": "sur", "plain": "uni",
               "background": "fond", "yes": "oui", "no": "non", "please": "veuillez", "or": "ou",
               "above": "au-dessus", "below": "sous", "to": "à", "and": "et", "with": "avec"},
    "German": {"question": "Frage", "about": "zu", "what": "welche", "shape": "Form", "shown": "gezeigt",
               "square": "Quadrat", "circle": "Kreis", "answer": "Antwort", "on": "auf", "plain": "schlichtem",
               "background": "Hintergrund", "yes": "ja", "no": "nein", "please": "bitte", "or": "oder",
               "above": "über", "below": "unter", "to": "zu", "and": "und", "with": "mit"},
    "Italian": {"is": "è", "there": "c'", "a": "un", "the": "il", "in": "nella", "image": "immagine",
                "what": "quale", "color": "colore", "which": "quale", "of": "di", "this": "questa",
                "cat": "gatto", "dog": "cane", "car": "auto", "picture": "foto", "are": "sono", "how": "quanti",
                "many": "molti", "red": "rosso", "blue": "blu", "green": "verde", "thing": "cosa",
                "question": "domanda", "about": "sulla", "shape": "forma", "shown": "mostrata",
                "square": "quadrato", "circle": "cerchio", "answer": "risposta", "on": "su", "plain": "uniforme",
                "background": "sfondo", "yes": "sì", "no": "no", "please": "per favore", "or": "o",
                "above": "sopra", "below": "sotto", "to": "a", "and": "e", "with": "con"},
    "Spanish": {"is": "es", "there": "hay", "a": "un", "the": "el", "in": "en", "image": "imagen",
                "what": "qué", "color": "color", "which": "cuál", "of": "de", "this": "esta", "cat": "gato",
                "dog": "perro", "car": "coche", "picture": "foto", "are": "son", "how": "cuántos",
                "many": "muchos", "red": "rojo", "blue": "azul", "green": "verde", "thing": "cosa",
                "question": "pregunta", "about": "sobre", "shape": "forma", "shown": "mostrada",
                "square": "cuadrado", "circle": "círculo", "answer": "respuesta", "on": "sobre",
                "plain": "liso", "background": "fondo", "yes": "sí", "no": "no", "please": "por favor",
                "or": "o", "above": "encima", "below": "debajo", "to": "a", "and": "y", "with": "con"},
}
#: the toy translator's words, with enough more for the sample data (and Italian and Spanish)
DEMO_WORDS: dict[str, dict[str, str]] = {
    lang: {**WORDS.get(lang, {}), **extra} for lang, extra in _EXTRA.items()}


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
    translated = toy_translate(prompt, images, words=DEMO_WORDS)
    return "A" if translated == "?" else translated
