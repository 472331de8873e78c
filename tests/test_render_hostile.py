"""Hostile plotting scripts (tests/hostile/*.py, one file per case) run through ``babelvl render``.

Each script says what must happen (see tests/hostile/README.md). Whatever it says, every run must
leave nothing written outside, no process behind, no connection to a host listener, the victim
process alive, and the planted secret (a file and an environment variable of this process) in
neither the output nor the image. Scripts marked ``native:`` run once more with the audit hook off,
to show the OS layers (bubblewrap, seccomp, rlimits) hold on their own.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from babelvl.cli import main
from babelvl.pixmo import sandbox
from babelvl.pixmo.renderers import image_problem
from babelvl.pixmo.renderers.matplotlib_renderer import OUTPUT_NAME, RUNNER

HOSTILE = Path(__file__).with_name("hostile")
SCRIPTS = sorted(HOSTILE.glob("*.py"))

pytestmark = pytest.mark.skipif(bool(sandbox.bwrap_problem()),
                                reason=f"bubblewrap cannot run here: {sandbox.bwrap_problem()}")


@dataclass
class Case:
    expect: str
    kinds: set[str]
    native: str | None
    timeout: float


def _case(path: Path) -> Case:
    header = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#\s*(expect|kind|native|timeout):\s*(.+)", line)
        if match:
            header[match.group(1)] = match.group(2).strip()
    assert header.get("expect") in ("refused", "contained"), f"{path.name}: '# expect:' is missing"
    kinds = {kind.strip() for kind in header.get("kind", "").split(",") if kind.strip()}
    return Case(header["expect"], kinds, header.get("native"), float(header.get("timeout", 20)))


class Arena:
    """What the scripts attack: a host folder, a secret, a listener and a victim process."""

    def __init__(self, root: Path) -> None:
        self.secret = f"S3CRET{uuid.uuid4().hex}"
        self.token = uuid.uuid4().hex
        self.outside = root / "outside"
        self.outside.mkdir()
        (self.outside / "precious.txt").write_text("precious")
        self.secret_file = root / "home" / ".ssh" / "id_rsa"
        self.secret_file.parent.mkdir(parents=True)
        self.secret_file.write_text(self.secret)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.setblocking(False)
        self.victim = subprocess.Popen(["sleep", "120"])

    def script(self, path: Path, into: Path) -> Path:
        text = path.read_text(encoding="utf-8")
        for key, value in {"@OUTSIDE@": str(self.outside), "@SECRET_FILE@": str(self.secret_file),
                           "@PORT@": str(self.listener.getsockname()[1]),
                           "@VICTIM_PID@": str(self.victim.pid), "@TOKEN@": self.token}.items():
            text = text.replace(key, value)
        target = into / path.name
        target.write_text(text, encoding="utf-8")
        return target

    def check_untouched(self, *texts: str, image: bytes | None = None) -> None:
        assert sorted(p.name for p in self.outside.iterdir()) == ["precious.txt"]
        assert (self.outside / "precious.txt").read_text() == "precious"
        assert not list(Path("/tmp").glob(f"*{self.token}*")) and not list(Path("/usr").glob(f"*{self.token}*"))
        assert self.victim.poll() is None, "the victim process was killed"
        with pytest.raises(BlockingIOError):
            self.listener.accept()  # no connection ever reached the host listener
        for text in texts:
            assert self.secret not in text
        if image is not None:
            assert self.secret.encode() not in image
            with Image.open(io.BytesIO(image)) as decoded:
                if decoded.width * decoded.height < 50_000_000:
                    assert self.secret.encode() not in decoded.tobytes()

    def close(self) -> None:
        self.victim.kill()
        self.victim.wait()
        self.listener.close()


@pytest.fixture
def arena(tmp_path, monkeypatch):
    made = Arena(tmp_path)
    monkeypatch.setenv("BABELVL_TEST_SECRET", made.secret)
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)
    yield made
    made.close()


def test_every_script_declares_its_outcome():
    assert len(SCRIPTS) >= 25
    for path in SCRIPTS:
        _case(path)


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_hostile_script_through_babelvl_render(script, arena, tmp_path, capsys):
    case = _case(script)
    code = arena.script(script, tmp_path)
    out = tmp_path / "figure.png"
    status = main(["render", "--code", str(code), "--out", str(out), "--time-limit", str(case.timeout)])
    captured = capsys.readouterr()
    message = captured.err.strip().splitlines()[-1] if captured.err.strip() else ""
    if case.expect == "refused":
        assert status == 1 and not out.exists(), captured
        assert message.startswith("babelvl render: "), captured.err
        kind = message.removeprefix("babelvl render: ").split(":", 1)[0]
        assert not case.kinds or kind in case.kinds, message
    else:
        assert status in (0, 1), captured
    assert "outlived" not in captured.err
    arena.check_untouched(captured.out, captured.err, image=out.read_bytes() if out.exists() else None)


NATIVE = [p for p in SCRIPTS if _case(p).native]


@pytest.mark.parametrize("script", NATIVE, ids=[p.stem for p in NATIVE])
def test_hostile_script_with_the_os_layers_alone(script, arena, tmp_path):
    case = _case(script)
    code = arena.script(script, tmp_path).read_text(encoding="utf-8")
    payload = json.dumps({"code": code, "data": None, "data_format": "auto"}).encode()
    result = sandbox.run_sandboxed([str(RUNNER), OUTPUT_NAME], workdir=tmp_path, stdin=payload,
                                   output=OUTPUT_NAME, timeout_s=case.timeout, audit_hook=False)
    assert "audit" not in result.layers and {"bwrap", "seccomp", "rlimits"} <= set(result.layers)
    acceptable = result.ok and result.output is not None and image_problem(result.output) is None
    if case.native == "refused":
        assert not acceptable, result
    assert result.leftover == 0
    arena.check_untouched(result.stdout, result.stderr, result.reason or "",
                          image=result.output if acceptable else None)
