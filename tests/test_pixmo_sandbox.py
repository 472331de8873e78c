"""The sandbox and the matplotlib renderer on real charts and on misbehaving dataset code."""

import io
import json
import socket
import uuid
from pathlib import Path

import pytest
from PIL import Image

from babelvl.errors import InputError
from babelvl.pixmo import renderers
from babelvl.pixmo.localize import replace_data_strings, replace_strings
from babelvl.pixmo.renderers import (RenderResult, available_renderers, get_renderer,
                                     register_renderer, render_or_keep, renderer_for)
from babelvl.pixmo import sandbox
from babelvl.pixmo.sandbox import REASON_KINDS, SandboxUnavailable, run_sandboxed

needs_bwrap = pytest.mark.skipif(bool(sandbox.bwrap_problem()),
                                 reason=f"bubblewrap cannot run here: {sandbox.bwrap_problem()}")




CHART = '''import matplotlib.pyplot as plt
import pandas as pd
from io import BytesIO
from PIL import Image

def generate_plot(df):
    plt.style.use('ggplot')
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(df['Country'], df['Consumption'], color='#8B4513', label='Coffee')
    ax.set_title('Coffee Consumption by Country', fontweight='bold')
    ax.set_xlabel('Country')
    ax.set_ylabel('kg per capita')
    ax.legend(loc='upper right')
    buf = BytesIO()
    plt.savefig(buf, format='png', dpi=80, bbox_inches='tight')
    buf.seek(0)
    return Image.open(buf)
'''
DATA = "Country,Consumption\nFinland,12.0\nNorway,9.9\nIceland,9.0\n"


@pytest.fixture(scope="module")
def renderer():
    return get_renderer("matplotlib")


def _png(image_bytes):
    image = Image.open(io.BytesIO(image_bytes))
    assert image.format == "PNG"
    return image


# --- rendering ------------------------------------------------------------------------------------

def test_cosyn_chart_renders_to_png(renderer, tmp_path):
    result = renderer.render(CHART, DATA, workdir=tmp_path, timeout_s=30)
    assert result.ok, result.reason
    assert _png(result.image_bytes).size[0] > 300
    assert list(tmp_path.iterdir()) == []  # the run folder is thrown away


def test_script_without_entry_function_renders_its_current_figure(renderer, tmp_path):
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('Plain script')\n"
    result = renderer.render(code, None, workdir=tmp_path)
    assert result.ok, result.reason
    _png(result.image_bytes)


def test_file_the_code_saved_is_used(renderer, tmp_path):
    code = ("import os\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
            "os.makedirs('out', exist_ok=True)\nplt.savefig('out/chart.jpg', dpi=50)\nplt.close('all')\n")
    result = renderer.render(code, None, workdir=tmp_path)
    assert result.ok, result.reason
    _png(result.image_bytes)


def test_code_that_draws_nothing_is_no_output(renderer, tmp_path):
    result = renderer.render("import matplotlib\nx = 1\n", None, workdir=tmp_path)
    assert not result.ok and result.reason.startswith("no_output")


def test_localized_chart_renders(renderer, tmp_path):
    translations = {"Coffee Consumption by Country": "Consommation de café par pays", "Country": "Pays",
                    "Finland": "Finlande", "Coffee": "Café"}
    code = replace_strings(CHART, translations, data=DATA)
    data = replace_data_strings(DATA, translations, code=code)
    assert "'Consommation de café par pays'" in code and "df['Country']" in code
    assert "Finlande" in data
    result = renderer.render(code, data, workdir=tmp_path)
    assert result.ok, result.reason


def test_render_or_keep_keeps_the_original_with_the_reason(renderer):
    original = b"original image bytes"
    broken = CHART.replace("fig, ax =", "1 / 0\n    fig, ax =")
    image, reason = render_or_keep(original, broken, DATA, renderer)
    assert image is original and reason == "error: ZeroDivisionError: division by zero"
    image, reason = render_or_keep(original, CHART, DATA, renderer)
    assert reason is None and _png(image)


def test_render_or_keep_refuses_a_corrupt_image():
    class Corrupt:
        name = "corrupt"

        def can_render(self, record):
            return False

        def render(self, code, data, *, workdir, timeout_s=30, memory_mb=1024):
            return RenderResult(True, b"\x89PNG not really", None)

    image, reason = render_or_keep(b"orig", "", None, Corrupt())
    assert image == b"orig" and reason.startswith("no_output")


def test_registry_picks_a_renderer_per_record(monkeypatch):
    assert "matplotlib" in available_renderers()
    monkeypatch.setattr(renderers, "_REGISTRY", dict(renderers._REGISTRY))  # keep others unaffected
    assert renderer_for({"code": CHART}).name == "matplotlib"
    assert renderer_for({"code": "import plotly.express as px\nimport matplotlib\n"}) is None
    assert renderer_for({"code": "<html></html>"}) is None

    class Html:
        name = "html-test"

        def can_render(self, record):
            return (record.get("code") or "").lstrip().startswith("<")

        def render(self, code, data, *, workdir, timeout_s=30, memory_mb=1024):
            return RenderResult(False, None, "error: not implemented")

    register_renderer(Html())
    assert renderer_for({"code": "<html></html>"}).name == "html-test"
    assert get_renderer("html-test").name == "html-test"
    with pytest.raises(ValueError):
        register_renderer(Html())
    with pytest.raises(InputError, match="unknown renderer"):
        get_renderer("no-such-renderer")


# --- the sandbox on misbehaving code --------------------------------------------------------------

def test_infinite_loop_times_out(tmp_path):
    result = run_sandboxed("while True:\n    pass\n", workdir=tmp_path, timeout_s=3)
    assert result.kind == "timeout" and not result.ok
    assert 2.9 <= result.seconds < 6


def test_cpu_limit_is_a_timeout_too(tmp_path):
    result = run_sandboxed("while True:\n    pass\n", workdir=tmp_path, timeout_s=20, cpu_s=1)
    assert result.kind == "timeout" and "CPU" in result.reason and result.seconds < 5


def test_too_much_memory(tmp_path):
    result = run_sandboxed("buffer = bytearray(4 * 1024**3)\n", workdir=tmp_path, memory_mb=512)
    assert result.kind == "memory", result.reason


def test_write_outside_the_folder_is_refused(tmp_path):
    outside = tmp_path / f"evil-{uuid.uuid4().hex}.txt"
    result = run_sandboxed(f"open({str(outside)!r}, 'w').write('x')\n", workdir=tmp_path / "work")
    assert not result.ok and not outside.exists()  # under bwrap the host path does not even exist
    result = run_sandboxed("open('/usr/babelvl-evil.txt', 'w').write('x')\n", workdir=tmp_path / "work")
    assert result.kind == "write_outside" and not Path("/usr/babelvl-evil.txt").exists()
    escape = run_sandboxed("open('../escaped.txt', 'w')\n", workdir=tmp_path / "work")
    assert escape.kind == "write_outside" and not (tmp_path / "escaped.txt").exists()


def test_deleting_or_renaming_outside_is_refused(tmp_path):
    keep = tmp_path / "keep.txt"
    keep.write_text("precious")
    for code in (f"import os\nos.remove({str(keep)!r})\n",
                 f"import shutil\nshutil.rmtree({str(tmp_path)!r})\n",
                 f"import os\nos.rename({str(keep)!r}, 'stolen.txt')\n"):
        assert not run_sandboxed(code, workdir=tmp_path / "work").ok  # under bwrap: no such file
        result = run_sandboxed(code, workdir=tmp_path / "work", unsafe_no_sandbox=True)
        assert result.kind == "write_outside", result.reason  # the audit layer on its own
    assert keep.read_text() == "precious"


def test_writing_inside_the_folder_is_fine_and_the_output_comes_back(tmp_path):
    code = ("import os\nos.makedirs('a/b')\nopen('a/b/out.txt', 'w').write('x')\n"
            "open('result.bin', 'wb').write(b'payload')\nprint('done')\n")
    result = run_sandboxed(code, workdir=tmp_path, output="result.bin")
    assert result.ok and result.stdout.strip() == "done"
    assert set(result.files) == {"a/b/out.txt", "result.bin"} and result.output == b"payload"
    if "bwrap" in result.layers:
        assert not (tmp_path / "a").exists()  # the work folder is a private tmpfs of the run


def test_output_over_the_limit_is_refused(tmp_path):
    code = "open('big.bin', 'wb').write(b'x' * 5000)\n"
    result = run_sandboxed(code, output="big.bin", max_output_bytes=1000)
    assert result.kind == "too_large" and result.output is None


def test_output_that_is_a_link_is_not_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t")
    code = f"import os\nos.symlink({str(secret)!r}, 'out.bin')\n"
    result = run_sandboxed(code, output="out.bin", unsafe_no_sandbox=True, workdir=tmp_path / "w")
    assert result.output is None and result.kind == "forbidden", result.reason


def test_network_is_refused(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.2)
        port = server.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        result = run_sandboxed(code, workdir=tmp_path)
        assert result.kind == "network", result.reason
        with pytest.raises(OSError):
            server.accept()  # nothing ever connected
    raw = run_sandboxed("import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n", workdir=tmp_path)
    assert raw.kind == "network"


@needs_bwrap
def test_every_layer_is_active_under_bwrap(tmp_path):
    code = ("import socket, os, json\nnet = [l.split(':')[0].strip() for l in open('/proc/self/net/dev')][2:]\n"
            "print(json.dumps([net, os.getuid(), socket.gethostname()]))\n")
    result = run_sandboxed(code, workdir=tmp_path)
    assert result.ok, result.reason
    assert {"bwrap", "rlimits", "seccomp", "audit", "wall"} <= set(result.layers)
    assert json.loads(result.stdout) == [["lo"], 65534, "babelvl-sandbox"]


@needs_bwrap
def test_only_what_rendering_needs_is_visible(tmp_path):
    code = ("import os, json\nseen = {p: os.path.exists(p) for p in ['/etc/passwd', '/etc/shadow', "
            f"'/root/.ssh', '/home', {str(tmp_path)!r}, '/etc/fonts', '/usr/lib']}}\n"
            "seen['proc1'] = open('/proc/1/environ', 'rb').read().decode()\n"
            "seen['pids'] = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
            "print(json.dumps(seen))\n")
    result = run_sandboxed(code, workdir=tmp_path)
    seen = json.loads(result.stdout)
    assert not any(seen[p] for p in ['/etc/passwd', '/etc/shadow', '/root/.ssh', '/home', str(tmp_path)])
    assert seen["/usr/lib"]
    assert seen["proc1"] == "PATH=/usr/bin:/bin\x00"  # the sandbox's PID 1 is bwrap, with an empty environment
    assert max(seen["pids"]) < 10  # its own PID namespace, not the host's processes


def test_refusals_caught_by_the_code_still_fail_the_run(tmp_path):
    code = ("try:\n    open('/etc/babelvl-test', 'w')\nexcept OSError:\n    print('carried on')\n"
            "print('finished')\n")
    result = run_sandboxed(code, workdir=tmp_path)
    assert not result.ok and result.kind == "write_outside"
    assert "finished" not in result.stdout  # the first refusal ends the process
    assert result.violations and result.violations[0].startswith("write_outside")


def test_limits_cannot_be_raised_from_inside(tmp_path):
    code = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\n"
    assert run_sandboxed(code, workdir=tmp_path).kind == "forbidden"


def test_minimal_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BABELVL_TEST_SECRET", "do-not-leak")
    code = "import json, os\nprint(json.dumps(dict(os.environ)))\n"
    result = run_sandboxed(code, workdir=tmp_path, env={"HTTPS_PROXY": "http://proxy:3128", "EXTRA": "1"})
    env = json.loads(result.stdout)
    assert env["MPLBACKEND"] == "Agg" and env["EXTRA"] == "1"
    assert env["MPLCONFIGDIR"].startswith(env["HOME"])
    assert not {key for key in env if "proxy" in key.lower() or "SECRET" in key}


def test_script_mode_with_arguments_and_stdin(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint(sys.argv[1:], sys.stdin.read())\n")
    result = run_sandboxed([str(script), "a", "b"], workdir=tmp_path / "work", stdin=b"fed")
    assert result.ok and result.stdout.strip() == "['a', 'b'] fed"


def test_without_bwrap_untrusted_code_is_refused_unless_unsafe_is_chosen(tmp_path, monkeypatch):
    sandbox.bwrap_problem.cache_clear()
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH ...
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)  # ... nor in the usual places
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)
    try:
        with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
            run_sandboxed("print('hi')\n", workdir=tmp_path)
        result = run_sandboxed("print('hi')\n", workdir=tmp_path / "w", unsafe_no_sandbox=True)
        assert result.ok and result.stdout.strip() == "hi" and "bwrap" not in result.layers
        assert {"audit", "rlimits"} <= set(result.layers)
        monkeypatch.setenv(sandbox.UNSAFE_ENV, "1")
        assert run_sandboxed("print('hi')\n", workdir=tmp_path / "w").ok
    finally:
        sandbox.bwrap_problem.cache_clear()


def test_unsafe_mode_keeps_the_in_process_guards(tmp_path):
    result = run_sandboxed("import os\nos.system('echo hi')\n", workdir=tmp_path, unsafe_no_sandbox=True)
    assert result.kind == "subprocess"
    outside = tmp_path.parent / f"evil-{uuid.uuid4().hex}"
    result = run_sandboxed(f"open({str(outside)!r}, 'w')\n", workdir=tmp_path, unsafe_no_sandbox=True)
    assert result.kind == "write_outside" and not outside.exists()


def test_render_refuses_a_huge_image(renderer, tmp_path):
    code = "from PIL import Image\n\ndef generate_plot(data):\n    return Image.new('L', (12000, 12000))\n"
    result = renderer.render(code, None, workdir=tmp_path)
    assert not result.ok and result.reason.startswith("too_large") and "144000000" in result.reason


@pytest.mark.parametrize("code", ["import subprocess\nsubprocess.run(['echo', 'hi'])\n",
                                  "import os\nos.system('echo hi')\n", "import os\nos.fork()\n",
                                  "import os\nos.execv('/bin/echo', ['echo'])\n"])
def test_subprocesses_are_refused(tmp_path, code):
    result = run_sandboxed(code, workdir=tmp_path)
    assert result.kind == "subprocess", result.reason
    assert "hi" not in result.stdout


def test_exceptions_become_error_reasons(tmp_path):
    result = run_sandboxed("x = 1 / 0\n", workdir=tmp_path)
    assert result.reason == "error: ZeroDivisionError: division by zero"
    assert "Traceback" in result.stderr and result.returncode == 1


def test_reason_kinds_are_documented():
    expected = {"timeout", "memory", "network", "write_outside", "subprocess", "forbidden", "error",
                "no_output", "too_large"}
    assert expected <= set(REASON_KINDS)


def test_a_python_under_the_hosts_tmp_is_bound_inside_a_read_only_tmp(tmp_path, monkeypatch):
    """A CI clone or venv under /tmp: /tmp cannot be the work folder's symlink then (bwrap refused to start:
    "Can't make symlink at /tmp"); it becomes a read-only tmpfs holding just those folders."""
    import shutil

    from babelvl.pixmo import sandbox

    if sandbox.bwrap_path() is None:
        pytest.skip("bubblewrap is not installed")
    roots, extra = sandbox._python_roots()
    roots = tuple(r for r in roots if r != "/tmp" and not r.startswith("/tmp/"))  # this run's may be there too
    monkeypatch.setattr(sandbox, "_python_roots", lambda: (roots + ("/tmp/some-venv",), extra))
    command = sandbox._bwrap_command(tmp_path, allow_network=False, work_mb=16)
    text = " ".join(command)
    assert "--tmpfs /tmp" in text and "--ro-bind /tmp/some-venv /tmp/some-venv" in text
    assert text.index("--tmpfs /tmp") < text.index("--ro-bind /tmp/some-venv") < text.index("--remount-ro /tmp")
    assert "--symlink /sandbox/.tmp /tmp" not in text
    monkeypatch.setattr(sandbox, "_python_roots", lambda: (roots, extra))
    assert "--symlink /sandbox/.tmp /tmp" in " ".join(sandbox._bwrap_command(tmp_path, allow_network=False,
                                                                             work_mb=16))
    assert shutil.which(command[0])
