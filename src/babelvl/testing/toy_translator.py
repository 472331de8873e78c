"""A toy translator behind a real OpenAI-compatible HTTP server on loopback.

Test double for a remote LLM server (vLLM, a hosted API): that server is a true external boundary.
It "translates" word by word from a tiny dictionary, keeps ⟦n⟧ placeholders, and can be told to drop
placeholders on the first prompt variant so retries are exercised. An item sent as a JSON object (a
translation unit) is answered as a JSON object with the same keys; a value containing ``MALFORMED``
makes the first answer malformed (the stricter retry prompt fixes it) and ``BROKENJSON`` makes every
structured answer malformed (babelvl then translates the fields one by one). Everything on babelvl's
side (engine, prompts, cache, checks, pipeline) is real.
"""

from __future__ import annotations

import json
import re

WORDS = {
    "French": {"is": "est", "there": "là", "a": "un", "the": "le", "in": "dans", "image": "image",
               "what": "quel", "color": "couleur", "which": "quel", "of": "de", "this": "ce", "cat": "chat",
               "dog": "chien", "car": "voiture", "picture": "photo", "are": "sont", "how": "comment",
               "many": "beaucoup", "red": "rouge", "blue": "bleu", "green": "vert", "thing": "chose"},
    "German": {"is": "ist", "there": "da", "a": "ein", "the": "die", "in": "im", "image": "Bild",
               "what": "was", "color": "Farbe", "which": "welche", "of": "von", "this": "dieses", "cat": "Katze",
               "dog": "Hund", "car": "Auto", "picture": "Bild", "are": "sind", "how": "wie",
               "many": "viele", "red": "rot", "blue": "blau", "green": "grün", "thing": "Ding"},
}
_PROMPT = re.compile(r"(?:English): (?:<source>)?(?P<text>.*?)(?:</source>)?\n(?P<target>[A-Za-z]+):\s*$", re.S)


def toy_translate(prompt: str, images: list[bytes], *, words: dict[str, dict[str, str]] | None = None) -> str:
    """Answer a translation prompt word by word from ``words`` (default :data:`WORDS`), by target language name."""
    match = _PROMPT.search(prompt)
    if match is None:
        return "?"
    text, target = match.group("text"), match.group("target")
    strict = "<source>" in prompt
    table = (WORDS if words is None else words).get(target, {})

    def word(m: re.Match[str]) -> str:
        w = m.group(0)
        out = table.get(w.lower(), w)
        return out.capitalize() if w[:1].isupper() else out

    def translate(text: str) -> str:
        out = re.sub(r"[A-Za-z]+", word, text)
        if "DROPME" in text and not strict:
            out = re.sub(r"⟦\d+⟧", "", out)  # a sloppy first answer: the stricter retry prompt fixes it
        return out

    if text.startswith("{"):
        try:
            fields = json.loads(text)
        except ValueError:
            return "?"
        values = " ".join(str(v) for v in fields.values())
        if "BROKENJSON" in values or ("MALFORMED" in values and not strict):
            return "Voici la traduction : " + json.dumps({k: translate(v) for k, v in list(fields.items())[:-1]})
        return json.dumps({k: translate(v) for k, v in fields.items()}, ensure_ascii=False)
    return translate(text)
