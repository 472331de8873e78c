"""One spelling per idea on the command line: checked over every sub-command the parser has, so a new command
cannot bring back an old spelling unnoticed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from babelvl import ui
from babelvl.cli import _with_run_config, build_parser, main

#: spellings that meant "input" or "output" under other names before; never visible on any command now
RETIRED = {"--output", "--file", "--source", "--dataset"}
SERVER = {"--api-base", "--api-key", "--concurrency", "--timeout"}


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from _leaves(child, path + (name,))


LEAVES = list(_leaves(build_parser()))


def _visible(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {opt: a for a in parser._actions if a.help != argparse.SUPPRESS for opt in a.option_strings}


def test_every_command_is_covered():
    names = {" ".join(path) for path, _ in LEAVES}
    assert {"eval", "score", "translate", "build-pixmo", "mix", "train", "ablate", "postedit import",
            "annotate plan", "tiny-model"} <= names


@pytest.mark.parametrize("path,parser", LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_vocabulary(path, parser):
    visible = _visible(parser)
    assert not RETIRED & set(visible), f"{' '.join(path)} shows a retired spelling"
    assert {"--config", "--verbose", "--quiet"} <= set(visible)
    if SERVER & set(visible):  # a command that talks to a server takes all of the server options
        assert SERVER <= set(visible)
    if "--out" in visible:  # --out is what the command writes: never an existing input the command reads
        assert "output" in (visible["--out"].help or "") or "write" in (visible["--out"].help or "") \
            or "folder" in (visible["--out"].help or "") or "file" in (visible["--out"].help or "")
    help_text = parser.format_help()
    for action in parser._actions:
        if (action.option_strings and action.help != argparse.SUPPRESS and action.nargs != 0
                and action.default not in (None, False, [], "", argparse.SUPPRESS)):
            assert f"(default: {action.default})" in " ".join(help_text.split()), (path, action.option_strings)


def test_server_commands_share_the_same_options():
    with_server = {" ".join(p): parser for p, parser in LEAVES if "--api-base" in _visible(parser)}
    assert {"eval", "translate", "build-pixmo"} <= set(with_server)
    defaults = {name: {a.dest: a.default for a in p._actions if a.option_strings and a.option_strings[0] in SERVER}
                for name, p in with_server.items()}
    assert len({json.dumps(d, sort_keys=True) for d in defaults.values()}) == 1


@pytest.mark.parametrize("argv,new", [
    (["score", "--benchmark", "pope", "--data", "x", "--predictions", "p", "--output", "m.json"], "--out"),
    (["mix", "--source", "a", "--languages", "en", "--budget", "3", "--out", "o"], "--data"),
    (["postedit", "import", "--data", "d", "--file", "w.csv"], "--edits"),
    (["train", "--model", "m", "--mixture", "x", "--out", "o"], "--data"),
    (["ablate", "--eval", "mme=x", "--out", "o"], "--data"),
    (["tiny-model", "llava", "./tiny"], "--out"),
    (["export-mixture", "mix/x", "--format", "llava", "--out", "o"], "--data"),
    (["build-pixmo", "--source", "cap", "--languages", "fr", "--out", "o"], "--recipe"),
])
def test_old_spellings_are_refused_with_the_new_one(argv, new, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert new in err and ("renamed" in err or "given with" in err)


def test_non_positive_counts_are_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--model", "m", "--limit", "-5", "--out", "o"])
    assert exc.value.code == 2 and "--limit" in capsys.readouterr().err


def test_run_config_file_sets_options_and_flags_override(tmp_path: Path):
    config = tmp_path / "run.yaml"
    config.write_text("model: ./tiny-llava\nlanguages: [en, fr]\ndata: [pope=a.parquet, mme=b]\n"
                      "concurrency: 16\nlimit: 5\nout: runs/x\n")
    parser = build_parser()
    args = parser.parse_args(_with_run_config(parser, ["eval", "--config", str(config), "--limit", "2"]))
    assert args.model == "./tiny-llava" and args.languages == "en,fr" and args.concurrency == 16
    assert args.data == ["pope=a.parquet", "mme=b"] and args.out == Path("runs/x")
    assert args.limit == 2  # the flag wins over the file
    args = parser.parse_args(_with_run_config(parser, ["eval", "--config", str(config), "--data", "ai2d=c"]))
    assert args.data == ["ai2d=c"]  # a repeatable flag on the command line replaces the file's list


def test_run_config_for_nested_commands_and_bad_keys(tmp_path: Path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("data: translated/mme\nedits: review.csv\neditor: ana\n")
    parser = build_parser()
    args = parser.parse_args(_with_run_config(parser, ["postedit", "import", "--config", str(config)]))
    assert (args.data, args.edits, args.editor) == (Path("translated/mme"), Path("review.csv"), "ana")
    config.write_text("data: x\nedit: review.csv\n")
    assert main(["postedit", "import", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "run.yaml" in err and "'edit'" in err and "edits" in err
    assert main(["postedit", "import", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "--subset" in capsys.readouterr().err


def test_sample_suite_from_a_run_config_and_quiet(tmp_path: Path, capsys):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"out": str(tmp_path / "suite")}))
    assert main(["sample-suite", "--config", str(config), "--quiet"]) == 0
    assert {"ai2d", "mme", "mmbench", "pope", "scienceqa"} <= {p.name for p in (tmp_path / "suite").iterdir()}
    assert ui.console().quiet
    assert main(["languages", "--verbose"]) == 0 and not ui.console().quiet
    ui.set_verbosity(ui.NORMAL)
