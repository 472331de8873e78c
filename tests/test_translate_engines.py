"""Translation engines: LLM prompts over a real HTTP server, the translation cache, MT models built offline,
placeholder protection, engine specs, and a user language pack that needs no code."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from babelvl.errors import BabelvlError, InputError
from babelvl.languages import load_language
from babelvl.models import ResponseCache
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.translate.base import Engine
from babelvl.translate.engines import (
    RECOMMENDED_ENGINES,
    CachedEngine,
    GGUFEngine,
    LLMEngine,
    Seq2SeqEngine,
    load_engine,
)
from babelvl.translate.engines.prompts import (
    aligned_examples,
    chat_prompt,
    clean_output,
    fewshot_prompt,
    translate_by_line,
)
from babelvl.translate.engines.seq2seq import (
    FALLBACK_FORMS,
    NATIVE_FORM,
    choose_placeholder_form,
    protect_placeholders,
    restore_placeholders,
)

EN, FR, DE = (load_language(code) for code in ("en", "fr", "de"))

# What the fake server "translates", and how it dresses some answers up the way real chat models do.
FRENCH = {
    "What color is the cat?": "De quelle couleur est le chat ?",
    "How many ⟦0⟧ are on the table?": 'Translation: "Combien de ⟦0⟧ y a-t-il sur la table ?"',
    "Compare ⟦0⟧ and ⟦1⟧.": "French: Comparez ⟦ 0 ⟧ et ⟦1⟧.\n\nNote: the placeholders were kept.",
    "B. A red apple": "B. Une pomme rouge",
}
CLEAN_FRENCH = {
    "What color is the cat?": "De quelle couleur est le chat ?",
    "How many ⟦0⟧ are on the table?": "Combien de ⟦0⟧ y a-t-il sur la table ?",
    "Compare ⟦0⟧ and ⟦1⟧.": "Comparez ⟦0⟧ et ⟦1⟧.",
    "B. A red apple": "B. Une pomme rouge",
}


def dictionary_translator(prompt: str, images: list[bytes]) -> str:
    """Answer with the translation of the one dictionary text the user turn contains."""
    assert not images, "translation requests are text-only"
    found = [source for source in FRENCH if source in prompt]
    return FRENCH[max(found, key=len)] if found else f"UNKNOWN: {prompt}"


@pytest.fixture(scope="module")
def server():
    with FakeVLMServer(dictionary_translator) as srv:
        yield srv


@pytest.fixture
def llm(server):
    server.reset_stats()
    engine = LLMEngine("openai:fake-translator", base_url=server.base_url, concurrency=2)
    yield engine
    engine.close()


# -- prompts ------------------------------------------------------------------------------------------------------


def test_examples_are_aligned_across_every_shipped_pack():
    packs = [load_language(code) for code in ("en", "fr", "de", "it", "es")]
    counts = {len(pack.extra["translation"]["examples"]) for pack in packs}
    assert counts == {5}
    for index in range(5):
        marks = {tuple(re.findall(r"⟦\d+⟧", pack.extra["translation"]["examples"][index])) for pack in packs}
        assert len(marks) == 1, f"example {index} has different placeholders across packs"
    assert aligned_examples(FR, DE)[1] == ("Quelle est la valeur de ⟦0⟧ dans le graphique ?",
                                           "Welchen Wert hat ⟦0⟧ im Diagramm?")


def test_chat_prompt_names_languages_rules_examples_and_target_notes():
    prompt = chat_prompt("What color is the cat?", EN, FR)
    assert "from English to French" in prompt.system
    assert "⟦0⟧" in prompt.system and "option letters" in prompt.system
    assert "English: What color is the car in the image?\nFrench: De quelle couleur est la voiture sur l'image ?" \
        in prompt.system
    assert "French: Quelle est la valeur de ⟦0⟧ dans le graphique ?" in prompt.system  # the placeholder example
    assert "vous" in prompt.system  # fr.yaml's prompt notes
    assert prompt.user == "English: What color is the cat?\nFrench:"


def test_variants_give_different_prompts():
    prompts = [chat_prompt("What color is the cat?", EN, DE, variant) for variant in (0, 1, 2)]
    assert len({(p.system, p.user) for p in prompts}) == 3
    assert "<source>What color is the cat?</source>" in prompts[1].user  # stricter: delimited source
    assert prompts[0].system.count("\nGerman: ") == 2
    assert prompts[2].system.count("\nGerman: ") == 5  # every example
    with pytest.raises(ValueError):
        chat_prompt("x", EN, DE, 3)


def test_fewshot_prompt_for_base_models():
    prompt = fewshot_prompt("Is there a cat?", FR, DE)
    assert prompt.startswith("French: De quelle couleur est la voiture sur l'image ?\nGerman: Welche Farbe")
    assert prompt.endswith("\n\nFrench: Is there a cat?\nGerman:")
    assert fewshot_prompt("x", EN, FR, 1) != prompt and "⟦0⟧" in fewshot_prompt("x", EN, FR, 1).split("\n")[0]
    with pytest.raises(ValueError):
        fewshot_prompt("two\nlines", EN, FR)


@pytest.mark.parametrize(
    ("raw", "source", "expected"),
    [
        ('"Bonjour le monde"', "Hello world", "Bonjour le monde"),
        ("« Bonjour »", "Hello", "Bonjour"),
        ('"Bonjour"', '"Hello"', '"Bonjour"'),  # quotes the source had stay
        ("Translation: Bonjour", "Hello", "Bonjour"),
        ("**French:** Bonjour", "Hello", "Bonjour"),
        ("Français : Bonjour", "Hello", "Bonjour"),
        ("Bonjour\n\nNote: I translated literally.", "Hello", "Bonjour"),
        ("Bonjour\nHello again", "Hello", "Bonjour"),  # single-line source: first line only
        ("Ligne un\nLigne deux", "Line one\nLine two", "Ligne un\nLigne deux"),
        ("```\nBonjour\n```", "Hello", "Bonjour"),
        ("<source>Combien de ⟦ 1 ⟧ ?</source>", "How many ⟦1⟧?", "Combien de ⟦1⟧ ?"),
        ("Translation: la traduction", "Translation: the translation", "Translation: la traduction"),
    ],
)
def test_clean_output(raw, source, expected):
    assert clean_output(raw, source, FR, EN) == expected


def test_translate_by_line_keeps_line_structure_and_sends_each_line_once():
    seen: list[list[str]] = []

    def upper(lines):
        seen.append(lines)
        return [line.upper() for line in lines]

    out = translate_by_line(["a\n\n  b ", "a", "c"], upper)
    assert out == ["A\n\n  B ", "A", "C"]
    assert seen == [["a", "b", "c"]]


# -- LLM engine over HTTP -----------------------------------------------------------------------------------------


def test_llm_engine_translates_cleans_and_keeps_placeholders(llm, server):
    texts = list(FRENCH)
    assert llm.translate(texts, EN, FR) == [CLEAN_FRENCH[t] for t in texts]
    assert server.request_count == len(texts)
    request = server.received[0]
    assert "from English to French" in request.system and "De quelle couleur est la voiture" in request.system
    assert all(r.images == [] for r in server.received)
    assert server.received[0].params["temperature"] == 0.0


def test_llm_engine_identity_and_license(server):
    unknown = LLMEngine("openai:fake-translator", base_url=server.base_url)
    stated = LLMEngine("openai:fake-translator", base_url=server.base_url, license="Apache-2.0")
    assert unknown.license == "unknown" and "license" in unknown.identity()["warning"]
    assert "warning" not in stated.identity() and stated.license == "Apache-2.0"
    ident = stated.identity()
    assert ident["backend"]["model"] == "fake-translator" and ident["prompt_version"]
    assert [stated.prompt_id(v) for v in (0, 1, 2)] == ["chat-p1-v0", "chat-p1-v1", "chat-p1-v2"]
    assert stated.batch_size >= 1


def test_llm_engine_in_process(tiny_llava):
    engine = load_engine(f"llm:hf:{tiny_llava}", device="cpu", settings=None)
    first = engine.translate(["What color is the cat?", "Is ⟦0⟧ red?"], EN, FR)
    assert len(first) == 2 and all("\n" not in text for text in first)  # random weights: only the mechanics
    assert engine.translate(["What color is the cat?", "Is ⟦0⟧ red?"], EN, FR) == first
    assert engine.identity()["backend"]["backend"] == "transformers"


# -- cache --------------------------------------------------------------------------------------------------------


class CountingEngine(Engine):
    """Tags each text with the target code; records every batch it is sent."""

    def __init__(self, name: str = "counting", batch_size: int = 2, fail_on_call: int | None = None) -> None:
        self.name, self.batch_size, self.fail_on_call = name, batch_size, fail_on_call
        self.batches: list[list[str]] = []

    def identity(self):
        return {"engine": self.name, "license": "MIT"}

    def prompt_id(self, variant=0):
        return f"count-v{variant}"

    def translate(self, texts, source, target, *, variant=0):
        self.batches.append(list(texts))
        if self.fail_on_call is not None and len(self.batches) == self.fail_on_call:
            raise RuntimeError("killed")
        return [f"{target.code}:{variant}:{text}" for text in texts]


@pytest.fixture
def cache(tmp_path):
    with ResponseCache(tmp_path / "cache.sqlite") as c:
        yield c


def test_cached_engine_second_call_costs_nothing(cache):
    inner = CountingEngine()
    engine = CachedEngine(inner, cache)
    texts = ["a", "b", "c", "d", "e"]
    first = engine.translate(texts, EN, FR)
    assert first == [f"fr:0:{t}" for t in texts]
    assert [len(b) for b in inner.batches] == [2, 2, 1]  # chunks of the inner batch size
    assert (engine.hits, engine.misses) == (0, 5)
    inner.batches.clear()
    assert engine.translate(texts, EN, FR) == first
    assert inner.batches == [] and (engine.hits, engine.misses) == (5, 5)
    # a new process with a new wrapper reads the same file
    assert CachedEngine(CountingEngine(), ResponseCache(cache.path)).translate(texts, EN, FR) == first


def test_cached_engine_misses_on_other_variant_target_or_engine(cache):
    inner = CountingEngine()
    CachedEngine(inner, cache).translate(["a"], EN, FR)
    for engine, target, variant in [(inner, FR, 1), (inner, DE, 0), (CountingEngine("other"), FR, 0)]:
        wrapped = CachedEngine(engine, cache)
        wrapped.translate(["a"], EN, target, variant=variant)
        assert wrapped.misses == 1


def test_cached_engine_sends_duplicates_once_and_keeps_order(cache):
    inner = CountingEngine(batch_size=8)
    engine = CachedEngine(inner, cache)
    assert engine.translate(["x", "y", "x", "x"], EN, FR) == ["fr:0:x", "fr:0:y", "fr:0:x", "fr:0:x"]
    assert inner.batches == [["x", "y"]]


def test_cached_engine_keeps_finished_chunks_when_killed(cache):
    engine = CachedEngine(CountingEngine(batch_size=2, fail_on_call=2), cache)
    with pytest.raises(RuntimeError):
        engine.translate(["a", "b", "c", "d"], EN, FR)
    resumed = CountingEngine(batch_size=2)
    assert CachedEngine(resumed, cache).translate(["a", "b", "c", "d"], EN, FR)[:2] == ["fr:0:a", "fr:0:b"]
    assert resumed.batches == [["c", "d"]]


def test_cached_engine_ignores_provenance_but_not_pack_examples(cache, tmp_path, monkeypatch):
    class Licensed(CountingEngine):
        def identity(self):
            return {"engine": self.name, "license": "Apache-2.0", "warning": None}

    CachedEngine(CountingEngine(), cache).translate(["a"], EN, FR)
    relicensed = CachedEngine(Licensed(), cache)
    relicensed.translate(["a"], EN, FR)
    assert relicensed.hits == 1  # stating a license does not void the cache
    edited = tmp_path / "packs"
    edited.mkdir()
    text = Path(FR.source).read_text(encoding="utf-8").replace("Un grand chien brun", "Un gros chien brun")
    (edited / "fr.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("BABELVL_LANGUAGE_PATH", str(edited))
    again = CachedEngine(CountingEngine(), cache)
    again.translate(["a"], EN, load_language("fr"))
    assert again.misses == 1  # edited examples change the prompt


def test_cached_llm_engine_over_http(llm, server, cache):
    engine = CachedEngine(llm, cache)
    texts = list(FRENCH)
    first = engine.translate(texts + texts[:1], EN, FR)
    assert server.request_count == len(texts)
    assert engine.translate(texts, EN, FR) == first[:-1]
    assert server.request_count == len(texts)  # nothing new sent
    engine.translate(texts[:1], EN, FR, variant=1)
    assert server.request_count == len(texts) + 1
    assert "<source>" in server.received[-1].prompt


# -- seq2seq (tiny Marian models built offline) -------------------------------------------------------------------

_SENTENCES = [
    "What color is the car in the image?", "Quelle est la couleur de la voiture ?", "The diagram shows a frog.",
    "Le schéma montre une grenouille.", "Which animal is in the picture [1]?", "Quel animal est sur la photo {2} ?",
    "A large brown dog sleeping on the grass", "Un grand chien brun qui dort sur l'herbe <3>", "Answer yes or no #4.",
    "Welche Farbe hat das Auto? Antworte mit Ja oder Nein.", "Room 10 has 20 chairs and 3 tables.",
]


def _build_tiny_marian(folder: Path, seed: int) -> Path:
    """A random-weight MarianMT model with a sentencepiece tokenizer trained here (no download).

    The training text has no ⟦⟧, so the tokenizer cannot write placeholders natively, as with real opus-mt models.
    """
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    work = folder.parent / f"{folder.name}-spm"
    work.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_SENTENCES * 5), model_prefix=str(work / "spm"), vocab_size=80,
        model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
        bos_id=-1, eos_id=-1, unk_id=2, pad_id=-1, minloglevel=2,
    )
    processor = spm.SentencePieceProcessor(model_file=str(work / "spm.model"))
    pieces = ["</s>", "<unk>", "<pad>"] + [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    (work / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(dict.fromkeys(pieces))}))
    tokenizer = MarianTokenizer(source_spm=str(work / "spm.model"), target_spm=str(work / "spm.model"),
                                vocab=str(work / "vocab.json"))
    config = MarianConfig(
        vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id, forced_eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    MarianMTModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    shutil.rmtree(work)
    (folder / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n# tiny test model\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def tiny_mt(tmp_path_factory):
    root = tmp_path_factory.mktemp("mt")
    _build_tiny_marian(root / "tiny-mt-en-fr", seed=0)
    _build_tiny_marian(root / "tiny-mt-en-de", seed=1)
    return root


@pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
def test_seq2seq_batches_keep_order_and_are_deterministic(tiny_mt):
    engine = Seq2SeqEngine(str(tiny_mt / "tiny-mt-en-fr"), device="cpu", batch_size=2, max_new_tokens=6)
    texts = ["What color is the car?", "The diagram shows a frog.", "A dog", "Answer yes or no.", "frog"]
    batched = engine.translate(texts, EN, FR)
    assert len(batched) == len(texts) and all(isinstance(t, str) for t in batched)
    assert engine.translate(texts, EN, FR) == batched
    assert [engine.translate([t], EN, FR)[0] for t in texts] == batched  # padding does not change an answer
    assert engine.translate(texts[::-1], EN, FR) == batched[::-1]
    assert engine.license == "cc-by-4.0"  # from the model card
    assert engine.identity()["fingerprint"] and [engine.prompt_id(v) for v in (0, 1, 2)] == [
        "greedy", "beam4", "beam4-norepeat3"]
    assert len(engine.translate(texts[:2], EN, FR, variant=2)) == 2


@pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
def test_seq2seq_model_per_pair_from_template(tiny_mt):
    engine = Seq2SeqEngine(str(tiny_mt / "tiny-mt-{src}-{tgt}"), device="cpu", max_new_tokens=6)
    assert engine.model_for(EN, DE).endswith("tiny-mt-en-de")
    to_fr = engine.translate(["What color is the car?"], EN, FR)
    to_de = engine.translate(["What color is the car?"], EN, DE)
    assert len(engine._loaded) == 2 and to_fr != to_de  # two models, loaded once each


@pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
def test_seq2seq_swaps_placeholders_the_tokenizer_cannot_write(tiny_mt):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_mt / "tiny-mt-en-fr")

    def round_trip(text):
        return tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True)

    assert "⟦" not in round_trip("⟦0⟧")
    assert choose_placeholder_form(round_trip, ["What is ⟦0⟧?"]) == FALLBACK_FORMS[0]
    # a text that already contains "[1]" literally must not have it turned into a placeholder
    assert choose_placeholder_form(round_trip, ["What is ⟦0⟧ in [1]?"]) == FALLBACK_FORMS[1]
    assert choose_placeholder_form(round_trip, ["no placeholder"]) is NATIVE_FORM


@pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
def test_seq2seq_placeholders_survive_a_model_that_copies_them(tiny_mt, monkeypatch):
    engine = Seq2SeqEngine(str(tiny_mt / "tiny-mt-en-fr"), device="cpu", max_new_tokens=6)
    engine.translate(["warm up"], EN, FR)
    loaded = next(iter(engine._loaded.values()))
    seen: list[str] = []

    def copy_input(input_ids, **kwargs):  # a perfect "translator" that copies its input
        seen.extend(loaded.tokenizer.batch_decode(input_ids, skip_special_tokens=True))
        return input_ids

    monkeypatch.setattr(loaded.model, "generate", copy_input)
    out = engine.translate(["What color is ⟦0⟧ in ⟦1⟧?", "The diagram shows a frog."], EN, FR)
    assert seen[0] == "What color is [0] in [1]?"  # the model saw a form its tokenizer can write
    assert out == ["What color is ⟦0⟧ in ⟦1⟧?", "The diagram shows a frog."]


def test_placeholder_swap_round_trip():
    form = FALLBACK_FORMS[0]
    source = "Compare ⟦0⟧ and ⟦12⟧."
    assert protect_placeholders(source, form) == "Compare [0] and [12]."
    assert restore_placeholders("Comparez [ 0 ] et [12] (voir [7]).", form, {"0", "12"}) == \
        "Comparez ⟦0⟧ et ⟦12⟧ (voir [7])."
    assert protect_placeholders(source, NATIVE_FORM) == source
    assert restore_placeholders("⟦ 3 ⟧", NATIVE_FORM) == "⟦3⟧"
    assert choose_placeholder_form(lambda s: s, ["⟦0⟧"]) is NATIVE_FORM


def test_seq2seq_license_table_and_non_commercial_warning():
    with pytest.warns(UserWarning, match="non-commercial"):
        nllb = Seq2SeqEngine("facebook/nllb-200-distilled-600M", device="cpu")
    assert nllb.license == "CC-BY-NC-4.0"
    assert Seq2SeqEngine("google/madlad400-3b-mt", device="cpu").license == "Apache-2.0"
    assert Seq2SeqEngine("Helsinki-NLP/opus-mt-{src}-{tgt}", device="cpu").license == "CC-BY-4.0"
    assert Seq2SeqEngine("someone/some-mt", device="cpu", license="MIT").license == "MIT"


def test_seq2seq_language_codes_come_from_packs(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from babelvl.translate.engines.seq2seq import _language_setup, _Loaded

    class FakeTokenizer:
        src_lang = None

        def get_vocab(self):
            return {"eng_Latn": 1, "fra_Latn": 2, "por_Latn": 3, "<2fr>": 4}

        def convert_tokens_to_ids(self, token):
            return self.get_vocab()[token]

    nllb = _Loaded(SimpleNamespace(), FakeTokenizer(), "nllb")
    assert _language_setup(nllb, EN, FR) == ("", {"forced_bos_token_id": 2})
    assert nllb.tokenizer.src_lang == "eng_Latn"
    assert _language_setup(_Loaded(SimpleNamespace(), FakeTokenizer(), "madlad"), EN, FR) == ("<2fr> ", {})
    with pytest.raises(BabelvlError, match="<2de>"):
        _language_setup(_Loaded(SimpleNamespace(), FakeTokenizer(), "madlad"), EN, DE)
    _write_pt_pack(tmp_path, nllb_code=False)
    monkeypatch.setenv("BABELVL_LANGUAGE_PATH", str(tmp_path))
    with pytest.raises(BabelvlError, match="nllb_code"):
        _language_setup(nllb, EN, load_language("pt"))


# -- specs --------------------------------------------------------------------------------------------------------


def test_load_engine_specs(server, tmp_path):
    engine = load_engine("llm:openai:fake-translator", base_url=server.base_url, license="Apache-2.0",
                         settings=None)
    assert isinstance(engine, LLMEngine) and engine.license == "Apache-2.0"
    assert isinstance(load_engine("mt:google/madlad400-3b-mt", device="cpu", batch_size=None), Seq2SeqEngine)
    assert isinstance(load_engine("gguf:gemma3-270m", cache_dir=tmp_path), GGUFEngine)
    for bad, message in [
        ("deepl:fr", "openai:<model>"),
        ("madlad400", "mt:<hub id or path>"),
        ("mt:", "names no model"),
        ("gguf:missing.gguf", "not a .gguf file"),
        ("llm:openai:model", "base_url"),
    ]:
        with pytest.raises(BabelvlError, match=re.escape(message)):
            load_engine(bad)
    with pytest.raises(BabelvlError, match="unknown engine option"):
        load_engine("mt:google/madlad400-3b-mt", beams=4)
    with pytest.raises(BabelvlError, match="unknown engine option"):
        load_engine("llm:openai:model", base_url=server.base_url, temperatur=0)
    # one option set serves a primary and a fallback engine of different kinds
    shared = {"base_url": server.base_url, "concurrency": 2, "max_new_tokens": 64, "device": "cpu"}
    assert load_engine("llm:openai:fake-translator", **shared).backend.concurrency == 2
    assert load_engine("mt:google/madlad400-3b-mt", **shared).max_new_tokens == 64


def test_recommended_engines_are_permissive():
    assert RECOMMENDED_ENGINES and all("NC" not in engine.license for engine in RECOMMENDED_ENGINES)


def test_gguf_engine_is_marked_as_a_demo_engine(tmp_path):
    engine = GGUFEngine(cache_dir=tmp_path)
    ident = engine.identity()
    assert engine.low_quality and engine.license == "Gemma Terms of Use"
    assert "not for data anyone publishes" in ident["note"] and ident["dtype"] == "float32"
    assert engine.batch_size == 8 and GGUFEngine(dtype="bfloat16", cache_dir=tmp_path).batch_size == 1
    assert engine._model is None  # nothing loads before the first translation
    with pytest.raises(BabelvlError, match="dtype"):
        GGUFEngine(dtype="int4")


# -- a language added by a YAML file only -------------------------------------------------------------------------

def _write_pt_pack(folder: Path, *, nllb_code: bool = True) -> None:
    nllb = "  nllb_code: por_Latn\n" if nllb_code else ""
    (folder / "pt.yaml").write_text(textwrap.dedent("""\
        code: pt
        name: Português
        instructions:
          multiple_choice: "Responda diretamente com a letra da opção entre as alternativas dadas."
          yes_no: "Por favor, responda sim ou não."
          short_answer: "Responda à pergunta com uma única palavra ou frase."
        "yes": ["sim"]
        "no": ["não"]
        translation:
          english_name: Portuguese
          examples:
            - "De que cor é o carro na imagem?"
            - "Qual é o valor de ⟦0⟧ no gráfico?"
        """) + nllb, encoding="utf-8")


def test_user_pack_works_without_code_change(tmp_path, monkeypatch, server, llm):
    _write_pt_pack(tmp_path)
    monkeypatch.setenv("BABELVL_LANGUAGE_PATH", str(tmp_path))
    pt = load_language("pt")
    assert aligned_examples(pt, FR) == [
        ("De que cor é o carro na imagem?", "De quelle couleur est la voiture sur l'image ?"),
        ("Qual é o valor de ⟦0⟧ no gráfico?", "Quelle est la valeur de ⟦0⟧ dans le graphique ?"),
    ]
    assert fewshot_prompt("Olá", pt, FR).endswith("Portuguese: Olá\nFrench:")
    assert llm.translate(["What color is the cat?"], EN, pt) == ["De quelle couleur est le chat ?"]
    system = server.received[-1].system
    assert "from English to Portuguese" in system and "Portuguese: Qual é o valor de ⟦0⟧ no gráfico?" in system


def test_pack_with_malformed_examples_is_an_input_error(tmp_path, monkeypatch):
    _write_pt_pack(tmp_path)
    path = tmp_path / "pt.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('- "De que cor é o carro na imagem?"', "- 3"),
                    encoding="utf-8")
    monkeypatch.setenv("BABELVL_LANGUAGE_PATH", str(tmp_path))
    with pytest.raises(InputError, match="translation.examples"):
        chat_prompt("x", EN, load_language("pt"))


@pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
def test_engines_without_units_translate_each_field_of_an_item(tiny_mt, tmp_path):
    """An MT model reads one text at a time: the pipeline sends an item's fields one by one through the default
    ``Engine.stream``, says so per segment, and the structure and code options still come back intact."""
    import pyarrow.parquet as pq

    from babelvl.testing.fixtures import write_mmbench
    from babelvl.translate.pipeline import TranslateSpec, run_translate

    base = {"category": "ocr", "source": "fixture", "L2-category": "x", "comment": None, "split": "dev",
            "hint": None, "D": None}
    rows = [{**base, "index": 0, "question": "What color is the car?", "A": "A dog", "B": "frog",
             "C": "(a+b)*(a-b)", "answer": "A"}]
    data = write_mmbench(tmp_path / "m.parquet", rows)
    out = tmp_path / "out"
    run_translate(TranslateSpec(data=str(data), languages=["fr"], out_dir=out, benchmark="mmbench", retries=0,
                                engine=f"mt:{tiny_mt / 'tiny-mt-{src}-{tgt}'}",
                                engine_options={"device": "cpu", "max_new_tokens": 6}))
    segments = [json.loads(line) for line in (out / "segments" / "fr.jsonl").read_text().splitlines()]
    assert sorted(s["source"] for s in segments) == ["A dog", "What color is the car?", "frog"]
    assert {s["request"] for s in segments} == {"engine-segment"} and len({s["unit_id"] for s in segments}) == 1
    row = pq.read_table(next((out / "fr").glob("*.parquet"))).to_pylist()[0]
    assert row["C"] == "(a+b)*(a-b)" and row["answer"] == "A" and row["D"] is None
    report = json.loads((out / "quality_report.json").read_text())
    assert report["languages"]["fr"]["requests"] == {"engine-segment": 3}
