"""Every bad input in docs/bad-inputs.md ends in one clear line, the exit code the table says, nothing lost.

The table is the single definition of the cases: :func:`test_table_case` runs each row whose ``test`` cell
is ``table`` exactly as written (``babelvl ...`` through ``cli.main`` in a scratch folder holding the input
files the command names), and checks the exit code, that the output contains the message, that no
traceback is printed, and that no input file changed. Rows that need several steps (a kill, a copy, an
edit) name a test function of this module, which must exist.

Inputs are written by :data:`INPUTS` in the exact real schemas (``babelvl.testing.fixtures``); the model
and translation server is ``FakeVLMServer`` (a real HTTP server on loopback: the test double for a remote
model server, a true external boundary), ``{api}`` in a command is its address.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from babelvl.cli import main
from babelvl.testing.fixtures import WRITERS, mmbench_rows, pope_rows, scienceqa_rows
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.testing.toy_translator import toy_translate

TABLE = Path(__file__).resolve().parents[1] / "docs" / "bad-inputs.md"


# --- the table ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    number: int
    case: str
    command: str
    message: str
    exit: int
    test: str


def _cell(text: str) -> str:
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "`" else text


def read_cases(path: Path = TABLE) -> list[Case]:
    """Rows of the table in ``path`` (columns: #, case, command, message, exit, test)."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) != 6 or not cells[0].strip().isdigit():
            continue
        cells = [c.replace("\\|", "|") for c in cells]
        cases.append(Case(int(cells[0]), cells[1].strip(), _cell(cells[2]), _cell(cells[3]),
                          int(cells[4]), _cell(cells[5])))
    return cases


CASES = read_cases()


def test_the_table_is_well_formed():
    assert len(CASES) >= 40
    assert [c.number for c in CASES] == list(range(1, len(CASES) + 1))
    for c in CASES:
        assert c.test != "table" or c.command.startswith(("babelvl ", "BABELVL_")), c
        assert c.exit in (0, 1, 2, 130), c
        assert c.test == "table" or callable(globals().get(c.test)), f"case {c.number}: no test {c.test}"


# --- input files, built on demand from the paths a command names -------------------------------------------

def _with_column(path: Path, name: str, values: list, type_: pa.DataType, out: Path) -> Path:
    table = pq.read_table(path)
    index = table.schema.get_field_index(name)
    column = pa.array(values, type_)
    table = table.set_column(index, name, column) if index >= 0 else table.append_column(name, column)
    pq.write_table(table, out)
    return out


def _int_question(out: Path) -> None:
    good = WRITERS["mme"](out.with_suffix(".src.parquet"))
    n = pq.read_table(good).num_rows
    _with_column(good, "question", list(range(n)), pa.int64(), out)
    good.unlink()


def _nan_options(out: Path) -> None:
    """MMBench as pandas writes it: C and D of two-option questions are NaN, the columns float64."""
    rows = [r for r in mmbench_rows() if r.get("C") is None or r["answer"] in "AB"]
    rows = [{**r, "C": None, "D": None} for r in rows if r["answer"] in "AB"]
    good = WRITERS["mmbench"](out.with_suffix(".src.parquet"), rows)
    n = len(rows)
    _with_column(good, "C", [float("nan")] * n, pa.float64(), out.with_suffix(".tmp.parquet"))
    _with_column(out.with_suffix(".tmp.parquet"), "D", [float("nan")] * n, pa.float64(), out)
    good.unlink()
    out.with_suffix(".tmp.parquet").unlink()


def _int_choices(out: Path) -> None:
    good = WRITERS["scienceqa"](out.with_suffix(".src.parquet"))
    n = pq.read_table(good).num_rows
    _with_column(good, "choices", [[1, 2, 3]] * n, pa.list_(pa.int64()), out)
    good.unlink()


def _zero_rows(out: Path) -> None:
    WRITERS["pope"](out, [])


def _pack(text: str) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "pt.yaml").write_text(text, encoding="utf-8")

    return write


def _text(text: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(text, encoding="utf-8")


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _predictions(out: Path) -> None:
    out.write_text("".join(json.dumps({"row": i, "response": "yes"}) + "\n" for i in range(len(pope_rows()))),
                   encoding="utf-8")


def _dataset_folder(out: Path) -> None:
    """A Multi-PixMo-style folder with one language (what ``mix`` reads)."""
    from babelvl.train.synthetic_task import write_training_set

    write_training_set(out, ["en"], per_language=4)


def _data_files(snapshot: dict[str, str]) -> dict[str, str]:
    """Without SQLite files, whose bytes change when an open connection checkpoints (not a content change)."""
    return {k: v for k, v in snapshot.items() if ".sqlite" not in k}


def _translated(out: Path) -> None:
    """A finished translation folder (MME into French through the toy translator at ``_SERVER``)."""
    from babelvl.translate.pipeline import TranslateSpec, run_translate

    data = WRITERS["mme"](out.parent / "translated-source.parquet")
    run_translate(TranslateSpec(data=str(data), languages=["fr"], out_dir=out, benchmark="mme",
                                engine="openai:toy-translator", engine_options={"base_url": _SERVER[0]}))


def _mme_rows_with(**changes) -> Callable[[Path], None]:
    """MME rows where row 0 has ``changes`` (e.g. a broken image or an answer that is not yes/no)."""
    from babelvl.testing.fixtures import mme_rows

    def write(out: Path) -> None:
        rows = mme_rows()
        rows[0] = {**rows[0], **changes}
        WRITERS["mme"](out, rows)

    return write


def _long_question(out: Path) -> None:
    from babelvl.testing.fixtures import mme_rows

    rows = mme_rows()[:1]
    rows[0] = {**rows[0], "question": "Is there a red thing " * 50_000 + "in the image?"}  # ~1 MB, one line
    WRITERS["mme"](out, rows)


def _mixed_schemas(folder: Path) -> None:
    folder.mkdir(parents=True)
    WRITERS["mme"](folder / "part-0.parquet")
    WRITERS["pope"](folder / "part-1.parquet")


def _broken_mixture(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text('{"messages": []}\n{"broken\n', encoding="utf-8")


def _plan(out: Path) -> None:
    """An annotation plan over a translated folder (two annotators)."""
    from babelvl.quality.sampling import plan_sample

    _translated(out.parent / "plan-data")
    plan_sample([out.parent / "plan-data"], annotators=["a", "b"], size=2, overlap=0.5, seed=0, out_dir=out)


def _pack_with_bad_numbers(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    french = (Path(__file__).parents[1] / "src/babelvl/languages/fr.yaml").read_text(encoding="utf-8")
    (folder / "pt.yaml").write_text(french.replace("code: fr", "code: pt") + "\nnumbers: {decimal: '12'}\n",
                                    encoding="utf-8")


def _generic(out: Path) -> None:
    """A generic dataset (any schema) with an integer column named like a text field."""
    pq.write_table(pa.table({"id": [1, 2], "caption": [3, 4], "label": ["x", "y"]}), out)


def _ai2d_string_options(out: Path) -> None:
    good = WRITERS["ai2d"](out.with_suffix(".src.parquet"))
    n = pq.read_table(good).num_rows
    _with_column(good, "options", ["A, B, C"] * n, pa.string(), out)
    good.unlink()


_SERVER: list[str] = []  # the toy server's address, for inputs that need a model to be written


INPUTS: dict[str, Callable[[Path], None]] = {
    "good/translated": _translated,
    "good/mme.parquet": lambda p: WRITERS["mme"](p),
    "good/pope.parquet": lambda p: WRITERS["pope"](p),
    "good/mmbench.parquet": lambda p: WRITERS["mmbench"](p),
    "good/scienceqa.parquet": lambda p: WRITERS["scienceqa"](p),
    "good/pope-preds.jsonl": _predictions,
    "bad/mme-int-question.parquet": _int_question,
    "bad/mmbench-nan-options.parquet": _nan_options,
    "bad/scienceqa-int-choices.parquet": _int_choices,
    "bad/mme-no-question.parquet": lambda p: WRITERS["mme"](p, drop=("question",)),
    "bad/pope-zero-rows.parquet": _zero_rows,
    "bad/empty.parquet": _bytes(b""),
    "bad/garbage.parquet": _bytes(b"PAR1 this is not a parquet file at all"),
    "bad/mme.csv": _text("question_id,question,answer\n1,Is it red?,Yes\n"),
    "bad/preds-broken.jsonl": _text('{"row": 0, "response": "yes"}\n{"row": 1, "response": \n'),
    "bad/preds-empty.jsonl": _text(""),
    "bad/preds-not-objects.jsonl": _text('["row", 0]\n'),
    "bad/packs-broken-yaml": _pack("code: pt\nname: [Portuguese\n"),
    "bad/packs-missing-keys": _pack("code: pt\nname: Portuguese\n"),
    "bad/packs-not-mapping": _pack("- just\n- a list\n"),
    "bad/packs-wrong-code": _pack((Path(__file__).parents[1] / "src/babelvl/languages/fr.yaml")
                                  .read_text(encoding="utf-8")),
    "good/mix-source": _dataset_folder,
    "bad/not-a-folder.txt": _text("hello\n"),
    "bad/empty-folder": lambda p: p.mkdir(parents=True),
    "good/plan": _plan,
    "bad/mme-image-paths.parquet": lambda p: pq.write_table(pa.table({
        "question_id": ["a", "b"], "image": ["nowhere/0.png", "nowhere/1.png"],
        "question": ["Is it red? Please answer yes or no."] * 2, "answer": ["Yes", "No"], "category": ["color"] * 2}), p),
    "bad/pope-bool-answer.parquet": lambda p: _with_column(WRITERS["pope"](p.with_suffix(".src.parquet")), "answer",
                                                           [True, False, True, False, True, False], pa.bool_(), p),
    "bad/edits-empty.csv": _text(""),
    "bad/edits-no-edited-column.csv": _text("id,language,source\nabc:fr,fr,Is it red?\n"),
    "bad/labelstudio-not-json.json": _text("{not json at all"),
    "good/splits": lambda p: (WRITERS["mme"](p / "test-00000.parquet"), WRITERS["mme"](p / "train-00000.parquet")),
    "good/mmbench-preds.jsonl": _text('{"row": 0, "response": "A"}\n{"row": 1, "response": "B"}\n'),
    "good/nan-mmbench-for-score.parquet": _nan_options,
    "bad/packs-bad-numbers": _pack_with_bad_numbers,
    "bad/generic-int-caption.parquet": _generic,
    "bad/ai2d-string-options.parquet": _ai2d_string_options,
    "bad/annotations-broken.jsonl": _text('{"item_id": "x"\n'),
    "good/by-language": lambda p: WRITERS["mme"](p / "en" / "test.parquet"),
    "bad/not-sqlite.sqlite": _text("this is not a database\n" * 100),
    "bad/mme-broken-image.parquet": _mme_rows_with(image=b"not an image"),
    "bad/mme-maybe-answer.parquet": _mme_rows_with(answer="Maybe"),
    "bad/mme-1mb-question.parquet": _long_question,
    "bad/mixed-schemas": _mixed_schemas,
    "bad/mixture-broken": _broken_mixture,
    "bad/preds-wrong-types.jsonl": _text('{"row": "zero", "response": 5}\n'),
    "bad/preds-out-of-range.jsonl": _text('{"row": 999, "response": "yes"}\n'),
    "bad/preds-utf16.jsonl": _bytes('{"row": 0, "response": "yes"}\n'.encode("utf-16")),
    "bad/preds-null-response.jsonl": _text('{"row": 0, "response": null}\n'),
    "bad/run-config-broken.yaml": _text("languages: [fr\n"),
    "bad/run-config-unknown.yaml": _text("nonsense: 1\n"),
    "bad/run-config-list.yaml": _text("- fr\n- de\n"),
}


def _inputs_named(command: str) -> list[str]:
    return [name for name in INPUTS if name in command]


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def server():
    with FakeVLMServer(toy_translate) as srv:
        yield srv


def run_command(command: str, folder: Path, api: str, capsys, monkeypatch) -> tuple[int, str]:
    """Run one table command (``VAR=value ... babelvl ARGS``) in ``folder``; return (exit code, output)."""
    monkeypatch.chdir(folder)
    argv = shlex.split(command.replace("{api}", api))
    while argv and re.match(r"^[A-Z_]+=", argv[0]):
        name, _, value = argv.pop(0).partition("=")
        monkeypatch.setenv(name, value)
    assert argv[0] == "babelvl"
    from babelvl.languages import _load_cached

    _load_cached.cache_clear()  # packs found through BABELVL_LANGUAGE_PATH are cached per process
    capsys.readouterr()
    try:
        code = main(argv[1:])
    except SystemExit as exc:  # argparse: bad option values
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("case", [c for c in CASES if c.test == "table"], ids=lambda c: f"{c.number}")
def test_table_case(case: Case, server, tmp_path, capsys, monkeypatch):
    if "--device cuda" in case.command:
        import torch

        if torch.cuda.is_available():
            pytest.skip("the case is about a machine without CUDA, and this one has a GPU")
    monkeypatch.setattr(sys.modules[__name__], "_SERVER", [server.base_url])
    for name in _inputs_named(case.command):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        INPUTS[name](path)
    before = _snapshot(tmp_path)
    code, output = run_command(case.command, tmp_path, server.base_url, capsys, monkeypatch)
    assert "Traceback" not in output, output
    assert code == case.exit, output
    assert case.message in " ".join(output.split()), output
    after = _data_files(_snapshot(tmp_path))
    assert {k: v for k, v in after.items() if k in before} == _data_files(before)  # no input changed or vanished


# --- cases with several steps ----------------------------------------------------------------------------

def test_failed_eval_does_not_block_its_folder(server, tmp_path, capsys, monkeypatch):
    """Case 18: a typo in --model fails the run; the corrected command then runs in the same folder. A
    folder holding scored items of one model still refuses another model (no mixed runs)."""
    INPUTS["good/mme.parquet"](tmp_path / "mme.parquet")
    common = "--benchmarks mme --data mme.parquet --out runs/a"
    code, output = run_command(f"babelvl eval --model ./no-such-model {common}", tmp_path, server.base_url,
                               capsys, monkeypatch)
    assert code == 2 and "cannot load './no-such-model'" in output
    code, output = run_command(f"babelvl eval --model openai:toy --api-base {{api}} {common}", tmp_path,
                               server.base_url, capsys, monkeypatch)
    assert code == 0, output
    assert "done: 4 items scored" in " ".join(output.split())
    code, output = run_command(f"babelvl eval --model openai:other --api-base {{api}} {common}", tmp_path,
                               server.base_url, capsys, monkeypatch)
    assert code == 2 and "holds a run with another model" in output


def _edit_first_line(work: Path) -> str:
    with open(work, encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.DictReader(fh))
    lines[0]["edited"], lines[0]["editor"] = lines[0]["machine_translation"] + " (révisé)", "ana"
    with open(work, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    return lines[0]["edited"]


def test_postedit_import_on_a_copied_folder_rebuilds_the_copy(server, tmp_path, capsys, monkeypatch):
    """Case 19: translate.json holds no path relative to where the command ran: the copy rebuilds
    itself, the original folder is untouched, and the source data is found from anywhere."""
    monkeypatch.setattr(sys.modules[__name__], "_SERVER", [server.base_url])
    original = tmp_path / "work" / "out"
    original.mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")  # the run is made with relative paths, from this folder
    _translated(Path("out"))
    stored = json.loads((original / "translate.json").read_text())
    assert stored["out_dir"] == "." and Path(stored["data_path"]).is_absolute()
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(original, copy)
    before = _snapshot(original)
    work = tmp_path / "work.csv"
    code, output = run_command(f"babelvl postedit export --data {copy} --out {work}", tmp_path / "elsewhere",
                               server.base_url, capsys, monkeypatch)
    assert code == 0, output
    edited = _edit_first_line(work)
    code, output = run_command(f"babelvl postedit import --data copy --edits {work}", tmp_path / "elsewhere",
                               server.base_url, capsys, monkeypatch)
    assert code == 0 and "dataset rebuilt" in output, output
    assert _data_files(_snapshot(original)) == _data_files(before)
    from babelvl.translate.edits import EditStore

    with EditStore(original / "edits.sqlite") as edits:
        assert len(edits) == 0
    with EditStore(copy / "edits.sqlite") as edits:
        assert len(edits) == 1
    rows = pq.read_table(next((copy / "fr").glob("*.parquet"))).to_pylist()
    assert any(edited in (r["question"] or "") for r in rows)


def test_fully_rejected_shard_writes_only_its_rejects(tmp_path, capsys, monkeypatch):
    """Case 20: a shard whose rows are all rejected has a rejects file and no Parquet file; the folder
    loads with ``load_dataset``, counts add up, and a second run skips every shard."""
    import datasets

    from babelvl.testing.pixmo_fixtures import ama_rows, write_ama

    base = "http://127.0.0.1:9/"
    rows = ama_rows(base, images=2, per_image=2)
    rows.insert(2, {**rows[0], "question": "  "})
    write_ama(tmp_path / "ama.parquet", base, rows)

    french = {"Question ⟦0⟧ about image ⟦1⟧: what shape is shown?":
              "Question ⟦0⟧ sur l'image ⟦1⟧ : quelle forme voit-on ?",
              "A square (answer ⟦0⟧).": "Un carré (réponse ⟦0⟧).",
              "A circle (answer ⟦0⟧).": "Un cercle (réponse ⟦0⟧)."}

    def translate(prompt: str, images: list[bytes]) -> str:
        return french[re.search(r"English: (?:<source>)?(.*?)(?:</source>)?\nFrench:\s*$", prompt, re.S).group(1)]

    with FakeVLMServer(translate) as srv:
        command = (f"babelvl build-pixmo --recipe ama --data ama.parquet --languages fr --engine openai:toy "
                   f"--api-base {{api}} --shard-size 1 --retries 0 --out out")
        code, output = run_command(command, tmp_path, srv.base_url, capsys, monkeypatch)
        assert code == 0, output
        fr = tmp_path / "out" / "fr"
        stored = json.loads((tmp_path / "out" / "build_spec.json").read_text())
        assert (stored["out_dir"], stored["cache_path"]) == (".", "cache.sqlite")  # relative to the run folder
        assert stored["data_path"] == str((tmp_path / "ama.parquet").resolve())
        assert (fr / "rejects" / "shard-00002.jsonl").read_text().count("\n") == 1
        assert not (fr / "shard-00002.parquet").exists()
        assert sorted(p.name for p in fr.glob("shard-*.parquet")) == [
            "shard-00000.parquet", "shard-00001.parquet", "shard-00003.parquet", "shard-00004.parquet"]
        calls = srv.request_count
        code, output = run_command(command, tmp_path, srv.base_url, capsys, monkeypatch)
        assert code == 0 and srv.request_count == calls
        result = json.loads(output[output.index("{"):output.rindex("}") + 1])
        assert result["run"]["shards_skipped"]["fr"] == 5
        assert (result["languages"]["fr"]["kept"], result["languages"]["fr"]["rejected"]) == (4, 1)
    loaded = datasets.load_dataset(str(tmp_path / "out"), "fr", split="train", cache_dir=str(tmp_path / "hf"))
    assert loaded.num_rows == 4


def test_hter_is_bounded_and_only_for_edited_segments():
    """Case 21: a 1 MB segment left as the machine wrote it costs only a word count; a 1 MB edited one is
    left out of HTER with a note. Memory stays small (TER's search needs the product of the lengths)."""
    import tracemalloc

    from babelvl.translate.edits import MAX_TER_WORDS, corpus_hter

    huge = " ".join(f"mot{i % 997}" for i in range(150_000))  # ~1 MB, one line
    pairs = [("le chat noir", "le chat est noir"), (huge, huge), (huge, huge + " fin")]
    tracemalloc.start()
    result = corpus_hter(pairs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * 2**20
    assert (result["n_segments"], result["n_edited"], result["n_skipped"]) == (3, 2, 1)
    assert result["per_segment"] == [pytest.approx(0.25), 0.0, None]
    assert result["hter"] == pytest.approx(1 / (4 + 150_000))  # one edit; every measured reference word
    assert f"longer than {MAX_TER_WORDS} words left out of HTER" in result["note"]
    assert corpus_hter([(huge, huge + " fin")])["hter"] is None  # nothing measurable is not 0


def test_ctrl_c_is_one_line_and_exit_130(tmp_path):
    """Case 22: SIGINT in the middle of a translation: one line on stderr, exit 130, no traceback."""
    data = WRITERS["pope"](tmp_path / "pope.parquet", [
        # distinct words (digits would be masked and de-duplicated into one request), sent one at a time, so
        # the run is still going when the signal comes
        {**pope_rows()[0], "id": str(i), "question_id": str(i),
         "question": f"Is there a thing {chr(97 + i % 26)}{chr(97 + i // 26)} here?"} for i in range(60)])
    with FakeVLMServer(toy_translate, delay=0.2) as srv:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "babelvl.cli", "translate", "--benchmark", "pope", "--data", str(data),
             "--languages", "fr", "--engine", "openai:toy-translator", "--api-base", srv.base_url,
             "--concurrency", "1", "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env)
        deadline = time.monotonic() + 120
        while srv.request_count == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert text.strip().splitlines()[-1].startswith("babelvl: interrupted")


def test_unexpected_errors_keep_the_traceback_and_point_to_the_tracker(capsys, monkeypatch):
    """Case 23: an exception babelvl did not mean to raise is a bug: traceback kept, tracker named, exit 1.
    The failing command is a stand-in (the only way to make babelvl fail unexpectedly on purpose)."""
    from babelvl import cli
    from babelvl.errors import issue_tracker

    def broken(args):
        raise RuntimeError("an internal mistake")

    monkeypatch.setitem(cli.COMMANDS, "languages", broken)
    assert cli.main(["languages"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: an internal mistake" in err
    assert "please report it" in err and issue_tracker() in err


def test_language_with_every_row_rejected_gets_no_config(tmp_path, capsys, monkeypatch):
    """Case 120: a language whose every row is rejected has rejects only, and the card gives it no config,
    so ``load_dataset`` of the other languages still works and the card says why that one is missing."""
    import datasets

    from babelvl.testing.pixmo_fixtures import write_cap

    write_cap(tmp_path / "cap.parquet", "http://127.0.0.1:9/")

    def writer(prompt: str, images: list[bytes]) -> str:
        if "Rédigez en français" in prompt:
            return ("Une photo montre une forme géométrique simple posée sur un fond uni, au centre de l'image, "
                    "avec des couleurs vives et des bords nets.")
        return "This caption is written in English although German was asked for, so checks reject it."

    with FakeVLMServer(writer) as srv:
        code, output = run_command("babelvl build-pixmo --recipe cap --data cap.parquet --languages fr,de "
                                   "--generator openai:toy --api-base {api} --retries 0 --out out", tmp_path,
                                   srv.base_url, capsys, monkeypatch)
    assert code == 0, output
    out = tmp_path / "out"
    assert not list((out / "de").glob("*.parquet")) and list((out / "de" / "rejects").glob("*.jsonl"))
    card = (out / "README.md").read_text()
    assert "config_name: de" not in card and "config_name: fr" in card
    assert "no row kept (every row rejected" in card and "de" in card.split("no row kept")[1].splitlines()[0]
    assert datasets.load_dataset(str(out), "fr", split="train", cache_dir=str(tmp_path / "hf")).num_rows == 3


def test_output_piped_into_a_reader_that_leaves(tmp_path):
    """Case 130: ``babelvl languages | head -1``: the reader leaves early; no traceback, exit 0."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "PYTHONUNBUFFERED": "1"}
    pack_dir = tmp_path / "packs"  # many packs, so the listing outlives the pipe buffer of the reader
    pack_dir.mkdir()
    french = (Path(__file__).parents[1] / "src/babelvl/languages/fr.yaml").read_text(encoding="utf-8")
    for i in range(400):
        code = f"x{i:03d}"
        (pack_dir / f"{code}.yaml").write_text(french.replace("code: fr", f"code: {code}"), encoding="utf-8")
    env["BABELVL_LANGUAGE_PATH"] = str(pack_dir)
    proc = subprocess.run(f"{shlex.quote(sys.executable)} -m babelvl.cli languages | head -1", shell=True,
                          capture_output=True, env=env, timeout=300)
    assert proc.stdout.decode().count("\n") == 1
    assert "Traceback" not in proc.stderr.decode() and "Broken pipe" not in proc.stderr.decode(), proc.stderr
