"""``babelvl render``: one figure through the same renderer and sandbox as build-pixmo."""

from __future__ import annotations

import pytest
from PIL import Image

from babelvl.cli import main
from babelvl.pixmo import sandbox

CODE = '''import matplotlib.pyplot as plt

def generate_plot(df):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(df["Country"], df["Value"])
    ax.set_title("Demo")
    return fig
'''


def test_render_writes_the_png(tmp_path, capsys):
    (tmp_path / "figure.py").write_text(CODE)
    (tmp_path / "data.csv").write_text("Country,Value\nFrance,3\nItaly,5\n")
    out = tmp_path / "out" / "figure.png"
    status = main(["render", "--code", str(tmp_path / "figure.py"), "--data", str(tmp_path / "data.csv"),
                   "--out", str(out), "--timeout", "60"])
    assert status == 0, capsys.readouterr().err
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 100
    assert sorted(p.name for p in out.parent.iterdir()) == ["figure.png"]  # no scratch left behind


def test_render_failure_exits_1_with_the_reason(tmp_path, capsys):
    (tmp_path / "broken.py").write_text("import matplotlib.pyplot as plt\nplt.plot([1, 2])\n1 / 0\n")
    out = tmp_path / "figure.png"
    assert main(["render", "--code", str(tmp_path / "broken.py"), "--out", str(out)]) == 1
    assert "error: ZeroDivisionError: division by zero" in capsys.readouterr().err
    assert not out.exists()


def test_render_bad_input_exits_2(tmp_path, capsys):
    assert main(["render", "--code", str(tmp_path / "missing.py"), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "missing.py" in err and "--code" in err
    (tmp_path / "ok.py").write_text("pass\n")
    assert main(["render", "--code", str(tmp_path / "ok.py"), "--out", str(tmp_path / "x.png"),
                 "--time-limit", "0"]) == 2


def test_render_without_a_sandbox_refuses_and_says_how_to_enable_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "ok.py").write_text("pass\n")
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    sandbox.bwrap_problem.cache_clear()
    try:
        assert main(["render", "--code", str(tmp_path / "ok.py"), "--out", str(tmp_path / "x.png")]) == 2
        err = capsys.readouterr().err
        assert "apt-get install bubblewrap" in err and "--unsafe-no-sandbox" in err
    finally:
        sandbox.bwrap_problem.cache_clear()
