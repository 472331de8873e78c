"""The babelvl parser: reads option letters and yes/no answers in any language with a language pack.

No LLM judge: every rule below is deterministic and uses only the words of the item's language pack
plus the English pack (models often answer in English whatever the prompt language). No word list
lives in this module, so adding a language stays "add a YAML file".

Multiple choice, in order:

1. An empty response is "empty".
2. Letters restricted to the item's options are collected in their usual forms: "B", "B.", "B)",
   "(B)", "[B]", "B:", "**B**", "\\boxed{B}", lowercase "b)"/"(b)", and any letter (either case)
   right after an answer prefix or an option word ("The answer is B", "Antwort: D", "Opción c").
   A capital letter followed by ordinary words is only a letter when it is not a word in the
   languages at hand (pack key ``word_letters``; "A dog", "A destra", "A la izquierda" are not
   option A) or when the words that follow are that option's own text ("B dog" with B = "dog").
   Letters that introduce an option's own text ("A destra" when an option reads "A destra") never
   count as letters, nor do letters inside an option's text echoed in the answer ("C) Solution A",
   "(C) sample B", "D) A" with D = "A", "C. Washington, D.C.") or a unit ("-24°C").
3. Letters introduced by an answer prefix or option word win over bare ones ("A. cat ... The answer
   is B" is B), except that bare letters in the same sentence join them ("The answer is B or C").
   Within the winning group, one distinct letter is the answer; two or more different letters
   make the response unparseable.
4. With no letter, a response that is exactly one option's text (ignoring case, accents and
   punctuation) is that option.
5. Otherwise a refusal phrase makes the status "refusal".
6. Otherwise, when the response contains the text of exactly one option (a text contained in a
   longer matching one does not count: "dark red" beats "red"), that option.
7. Otherwise a hedge (pack key ``hedges``: "I'm not sure", "difficile à dire") makes the status
   "unsure": reported, never guessed; anything else is unparseable.

Yes/no, in order:

1. An empty response is "empty".
2. Answers of at most three words holding both a yes and a no word ("Yes and no", "oui/non") are
   unparseable.
3. The first word decides when it is a yes/no word ("Oui.", "JA!", "Sì", "No, there is not",
   "Sí, hay un perro"), after leading markup and an answer prefix ("Answer: yes") are skipped,
   unless a refusal or hedge phrase starts there ("No sé", "Non posso", "No estoy seguro").
4. Otherwise a refusal phrase anywhere makes the status "refusal".
5. Otherwise yes/no words that stand alone (followed by punctuation or the end: "I think so, yes.")
   or follow an answer prefix decide when they all agree; disagreeing ones are unparseable. A yes/no
   word inside a sentence is not read ("si" is also "if" and a pronoun).
6. Otherwise a hedge anywhere ("There might be a cat", "Forse") makes the status "unsure".
7. Otherwise a sentence containing a negation word reads as "no" ("There is no cat", "Il n'y a pas
   de chat", "Es gibt keine Katze", "Non c'è nessun gatto").
8. Otherwise a phrase affirming presence (pack key ``affirmations``: "I can see a cat", "The image
   contains a cat", "Il y a un chat", "Auf dem Bild ist eine Katze zu sehen", "Nell'immagine c'è un
   gatto", "Hay un gato") reads as "yes". Anything else stays unparseable.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from babelvl.languages import LanguagePack, load_language
from babelvl.parsing.result import Parsed
from babelvl.parsing.text import any_phrase, fold, normalise_option_text, strip_accents, words_of

_MARKUP = re.compile(r"[*_`#]+")
_LATEX_WRAP = re.compile(r"\\[a-zA-Z]+\{([^{}]*)\}")
_SINGLE_LETTER = re.compile(r"(?<!\w)([A-Za-z])(?!\w)")
_OPENERS = "([{\"'«“<"
_SENTENCE_END = re.compile(r"[.!?;\n]")
_UNIT_MARKS = "°º"


@dataclass(frozen=True)
class Lexicon:
    """Compiled word lists of the packs in use (item language + English)."""

    yes: re.Pattern[str] | None
    no: re.Pattern[str] | None
    refusals: re.Pattern[str] | None
    negations: re.Pattern[str] | None
    introducer_at_end: re.Pattern[str] | None
    """Matches an answer prefix or option word at the end of a text, before a letter."""
    prefix_at_start: re.Pattern[str] | None
    prefix_at_end: re.Pattern[str] | None
    word_letters: frozenset[str]
    affirmations: re.Pattern[str] | None = None
    hedges: re.Pattern[str] | None = None


def packs_for(pack: LanguagePack) -> tuple[LanguagePack, ...]:
    """The item's pack plus English, the packs whose words the babelvl parser reads."""
    if pack.code == "en":
        return (pack,)
    return (pack, load_language("en"))


def lexicon(packs: Sequence[LanguagePack]) -> Lexicon:
    key = tuple((p.yes, p.no, p.refusals, p.negations, p.answer_prefixes, p.option_words,
                 _word_letters(p), _words(p, "affirmations"), _words(p, "hedges")) for p in packs)
    return _compile(key)


def _word_letters(pack: LanguagePack) -> tuple[str, ...] | None:
    """Capital letters that are words in this language; None (unknown) means "treat all as words"."""
    value = pack.extra.get("word_letters")
    if value is None:
        return None
    return tuple(str(v).strip().upper() for v in value)


def _words(pack: LanguagePack, key: str) -> tuple[str, ...]:
    """An optional word list of the pack (``affirmations``, ``hedges``; see en.yaml)."""
    return tuple(str(v) for v in pack.extra.get(key) or ())


@lru_cache(maxsize=64)
def _compile(key: tuple) -> Lexicon:
    yes, no, refusals, negations, prefixes, option_words = ([], [], [], [], [], [])
    affirmations: list[str] = []
    hedges: list[str] = []
    letters: set[str] = set()
    for p_yes, p_no, p_ref, p_neg, p_pre, p_opt, p_letters, p_aff, p_hedge in key:
        affirmations += p_aff
        hedges += p_hedge
        yes += p_yes
        no += p_no
        refusals += p_ref
        negations += p_neg
        prefixes += p_pre
        option_words += p_opt
        letters |= set(string.ascii_uppercase if p_letters is None else p_letters)
    introducers = any_phrase(prefixes + option_words)
    prefix = any_phrase(prefixes)
    sep = r"\s*[:：=\-–—]?\s*"
    return Lexicon(
        yes=any_phrase(yes), no=any_phrase(no), refusals=any_phrase(refusals),
        negations=any_phrase(negations),
        introducer_at_end=(re.compile(rf"(?:{introducers.pattern}){sep}[{re.escape(_OPENERS)}]?\s*$",
                                      re.IGNORECASE) if introducers else None),
        prefix_at_start=re.compile(rf"^(?:{prefix.pattern}){sep}") if prefix else None,
        prefix_at_end=re.compile(rf"(?:{prefix.pattern}){sep}$") if prefix else None,
        word_letters=frozenset(letters),
        affirmations=any_phrase(affirmations), hedges=any_phrase(hedges),
    )


def parse(response: str, *, kind: str, options: dict[str, str], pack: LanguagePack) -> Parsed:
    lex = lexicon(packs_for(pack))
    if kind == "choice":
        return parse_choice(response, options, lex)
    return parse_yesno(response, lex)


# --- multiple choice -------------------------------------------------------------------------------

def parse_choice(response: str, options: dict[str, str], lex: Lexicon) -> Parsed:
    if not response or not response.strip():
        return Parsed.empty()
    text = _MARKUP.sub("", _LATEX_WRAP.sub(r"\1", strip_accents(response))).strip()
    allowed = {k.upper() for k in options if len(k) == 1 and k.isalpha()} or set(string.ascii_uppercase)
    texts = {k.upper(): normalise_option_text(v) for k, v in options.items() if normalise_option_text(v)}

    norm = normalise_option_text(text)
    exact = [k for k, v in texts.items() if v == norm]
    if len(norm) > 1 and len(exact) == 1:  # "Vitamin C" is option text, not letter C
        return Parsed.ok(exact[0])

    explicit, loose = _find_letters(text, allowed, texts, lex, _echo_spans(text, options))
    for group in (explicit, loose):
        if len(group) == 1:
            return Parsed.ok(group.pop())
        if group:
            return Parsed.unparseable()

    if len(exact) == 1:
        return Parsed.ok(exact[0])
    if lex.refusals and lex.refusals.search(fold(text)):
        return Parsed.refusal()
    found = [k for k, v in texts.items() if f" {v} " in f" {norm} "]
    found = [k for k in found if not any(o != k and texts[k] != texts[o] and f" {texts[k]} " in f" {texts[o]} "
                                         for o in found)]
    if len(found) == 1:
        return Parsed.ok(found[0])  # "Maybe the dog" names one option: an answer, even hedged
    if lex.hedges and lex.hedges.search(fold(text)):
        return Parsed.unsure()
    return Parsed.unparseable()


def _echo_spans(text: str, options: dict[str, str]) -> list[tuple[int, int]]:
    """Where ``text`` repeats an option's own text (longer than one character), as (start, end) spans.

    A letter inside such a span belongs to the echoed text, not to the answer: "C) Solution A",
    "(C) sample B", "A. -24°C", "C) Washington, D.C." read as C, C, A, C.
    """
    spans = []
    for key, value in options.items():
        echo = _MARKUP.sub("", _LATEX_WRAP.sub(r"\1", strip_accents(str(value)))).strip()
        if not echo or not re.search(r"(?<![^\W\d_])[A-Za-z](?![^\W\d_])", echo):
            continue  # only texts holding a standalone letter can hide one
        words = [re.escape(w) for w in echo.split()]
        start = r"(?<!\w)" if re.match(r"\w", echo) else ""
        end = r"(?!\w)" if re.search(r"\w$", echo) else ""
        body = r"\s+".join(words) + end
        if len(echo) >= 2:
            spans += [m.span() for m in re.finditer(start + body, text, re.IGNORECASE)]
        # a one-letter text ("D) A") is an echo only right after its own letter
        own = rf"(?<!\w)[(\[]?{re.escape(key)}(?:[)\].:]|\s*[-–—])?\s*(?P<echo>{body})"
        spans += [m.span("echo") for m in re.finditer(own, text)]
    return spans


def _find_letters(text: str, allowed: set[str], texts: dict[str, str], lex: Lexicon,
                  echoes: Sequence[tuple[int, int]] = ()) -> tuple[set[str], set[str]]:
    """Letters asserted in ``text``: (introduced by a prefix/option word, bare).

    A bare letter in the same sentence as an introduced one joins it ("The answer is B or C" is
    ambiguous, "The answer is B. A is wrong" is not). Letters inside ``echoes`` (an option's text
    repeated in the answer) are not answers.
    """
    hits: list[tuple[int, str, bool]] = []
    only_letter = re.fullmatch(r"\W*([A-Za-z])\W*", text)
    for m in _SINGLE_LETTER.finditer(text):
        char, letter = m.group(1), m.group(1).upper()
        if letter not in allowed or any(a <= m.start() and m.end() <= b for a, b in echoes):
            continue
        if m.start() and text[m.start() - 1] in _UNIT_MARKS:
            continue  # "°C", "°F": a unit, not a letter
        before, after = text[:m.start()], text[m.end():]
        introduced = bool(lex.introducer_at_end and lex.introducer_at_end.search(before))
        if only_letter or _letter_form(char, before, after, introduced, letter, texts, lex) == "letter":
            hits.append((m.start(), letter, introduced))
    explicit = {letter for _, letter, introduced in hits if introduced}
    loose = {letter for _, letter, introduced in hits if not introduced}
    for pos, _, introduced in hits:
        if introduced:
            end = _sentence_end(text, pos + 1)
            explicit |= {letter for p, letter, intro in hits if not intro and pos < p < end}
    return explicit, loose


def _sentence_end(text: str, start: int) -> int:
    m = _SENTENCE_END.search(text, start)
    return m.start() if m else len(text)


def _letter_form(char: str, before: str, after: str, introduced: bool, letter: str,
                 texts: dict[str, str], lex: Lexicon) -> str:
    """Classify one single-letter token as "letter" or "word" from what surrounds it."""
    nxt = after[:1]
    if nxt in ("'", "-") and after[1:2].isalnum():  # L'arbre, C'è, X-ray
        return "word"
    if before[-1:] == "'" and before[-2:-1].isalnum():  # n'a, it's, won't
        return "word"
    if nxt in (")", "]") or (before.rstrip()[-1:] in ("(", "[") and after.lstrip()[:1] in (")", "]")):
        return "letter"
    if char.isupper() and nxt == "." and not after[1:2].isalnum():
        return "letter"  # "B." / "B. text", but not "A.M." or "B.2"
    if char.isupper() and nxt == ":":
        return "letter"
    rest = after.lstrip()
    followed_by_word = bool(rest[:1].isalnum()) and after[:1].isspace()
    if not followed_by_word:
        # bare letter followed by punctuation or the end
        return "letter" if (char.isupper() or introduced) else "word"
    if not char.isupper():
        return "word"  # "a destra", "a la izquierda"
    own = texts.get(letter)
    if own and (normalise_option_text(rest) + " ").startswith(own + " "):
        return "letter"  # "B dog" with B = "dog"
    tail = normalise_option_text(char + " " + rest) + " "
    if any(" " in t and tail.startswith(t + " ") for t in texts.values()):
        return "word"  # the letter starts an option's own text: "A destra" with an option "A destra"
    if introduced or letter not in lex.word_letters:
        return "letter"  # "The answer is B because", "B is correct"
    return "word"  # "A dog", "A destra del tavolo"


# --- yes / no --------------------------------------------------------------------------------------

def parse_yesno(response: str, lex: Lexicon) -> Parsed:
    if not response or not response.strip():
        return Parsed.empty()
    text = fold(_MARKUP.sub("", response)).strip()
    yes_hits = _hits(lex.yes, text)
    no_hits = _hits(lex.no, text)
    if len(words_of(text)) <= 3 and yes_hits and no_hits:
        return Parsed.unparseable()

    body = _skip_lead(text, lex)
    refusal_first = bool(lex.refusals and lex.refusals.match(body)) or bool(lex.hedges and lex.hedges.match(body))
    if not refusal_first:
        for pattern, answer in ((lex.yes, "yes"), (lex.no, "no")):
            if pattern and pattern.match(body):
                return Parsed.ok(answer)
    if lex.refusals and lex.refusals.search(text):
        return Parsed.refusal()

    votes = {answer for answer, hits in (("yes", yes_hits), ("no", no_hits))
             if any(_stands_alone(text, m, lex) for m in hits)}
    if len(votes) == 1:
        return Parsed.ok(votes.pop())
    if votes:
        return Parsed.unparseable()
    if lex.hedges and lex.hedges.search(text):
        return Parsed.unsure()
    if lex.negations and lex.negations.search(text):
        return Parsed.ok("no")
    if lex.affirmations and lex.affirmations.search(text):
        return Parsed.ok("yes")
    return Parsed.unparseable()


def _hits(pattern: re.Pattern[str] | None, text: str) -> list[re.Match[str]]:
    return list(pattern.finditer(text)) if pattern else []


def _skip_lead(text: str, lex: Lexicon) -> str:
    """Drop leading punctuation/markup and up to two answer prefixes ("Final answer: the answer is")."""
    body = text.lstrip(string.punctuation + " \t\n«»“”")
    for _ in range(2):
        m = lex.prefix_at_start.match(body) if lex.prefix_at_start else None
        if not m:
            break
        body = body[m.end():].lstrip(string.punctuation + " \t\n«»“”")
    return body


def _stands_alone(text: str, m: re.Match[str], lex: Lexicon) -> bool:
    """A yes/no word that ends a clause ("..., yes.") or follows an answer prefix."""
    after = text[m.end():].lstrip()
    if not after or not (after[0].isalnum() or after[0] == "'"):
        return True
    before = text[:m.start()].rstrip(" \t\n\"'«“(")
    return bool(lex.prefix_at_end and lex.prefix_at_end.search(before + " "))
