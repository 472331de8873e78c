"""PixMo and CoSyn fixtures in the exact Hub schemas, and a loopback HTTP server for their image URLs.

Schemas (:data:`SCHEMAS`) follow the ``dataset_info`` of the dataset cards: pixmo-cap ``transcripts`` is
list<string>; pixmo-ask-model-anything is four strings; CoSyn-400K ``qa_pairs`` is a ``Sequence`` of
{question, explanation, answer} (Arrow: a struct of three string lists), ``metadata`` a struct and
``image`` the datasets ``Image`` feature. PixMo URLs point at ``{base_url}/img/{n}.png``, which
:class:`ImageServer` serves on 127.0.0.1 with scripted failures, delays and request counting.
CoSyn rows carry small matplotlib ``code`` that really renders their image from their ``data``.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Sequence

from babelvl.testing.fixtures import draw_image

SCHEMAS: dict[str, list[tuple[str, str]]] = {
    # allenai/pixmo-cap, default config, split train
    "pixmo-cap": [("image_url", "string"), ("caption", "string"), ("transcripts", "list<string>")],
    # allenai/pixmo-ask-model-anything, default config, split train
    "pixmo-ask-model-anything": [("image_url", "string"), ("image_sha256", "string"),
                                 ("question", "string"), ("answer", "string")],
    # allenai/CoSyn-400K, every config (chart ... table), splits train and validation
    "cosyn-400k": [("id", "string"), ("image", "image"), ("qa_pairs", "qa_pairs"),
                   ("metadata", "metadata"), ("data", "string"), ("code", "string")],
}


def features_for(source: str) -> Any:
    """``datasets.Features`` of a source's Hub schema (datasets 2.x ``Sequence`` or 4+ ``List``)."""
    import datasets

    list_type = getattr(datasets, "List", None) or datasets.Sequence
    string = datasets.Value("string")

    def feature(dtype: str) -> Any:
        if dtype == "image":
            return datasets.Image()
        if dtype == "list<string>":
            return list_type(string)
        if dtype == "qa_pairs":  # Sequence({...}) on the card == struct of lists in Arrow
            return {"question": list_type(string), "explanation": list_type(string),
                    "answer": list_type(string)}
        if dtype == "metadata":
            return {"figure_type": string, "persona": string, "topic": string}
        return datasets.Value(dtype)

    return datasets.Features({name: feature(dtype) for name, dtype in SCHEMAS[source]})


def write_source(source: str, path: str | Path, rows: Sequence[dict[str, Any]], *,
                 drop: Iterable[str] = ()) -> Path:
    """Write ``rows`` (missing cells -> None) as Parquet in ``source``'s Hub schema; return the path."""
    import datasets

    from babelvl.data.loading import quiet_progress

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dropped = set(drop)
    features = features_for(source)
    kept = datasets.Features({k: v for k, v in features.items() if k not in dropped})
    columns = {name: [_cell(row.get(name)) for row in rows] for name in kept}
    buffer = io.BytesIO()
    with quiet_progress():
        datasets.Dataset.from_dict(columns, features=kept).to_parquet(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def _cell(value: Any) -> Any:
    return {"bytes": bytes(value), "path": None} if isinstance(value, (bytes, bytearray)) else value


# --- images served for PixMo URLs -------------------------------------------------------------------

def fixture_images(count: int) -> dict[str, bytes]:
    """``{"0.png": png, ...}``: what :class:`ImageServer` serves under ``/img/``."""
    return {f"{n}.png": draw_image(n) for n in range(count)}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_url(base_url: str, n: int) -> str:
    return f"{base_url.rstrip('/')}/img/{n}.png"


# --- default rows (valid; tests copy and break them) --------------------------------------------

def cap_rows(base_url: str, count: int = 3) -> list[dict[str, Any]]:
    return [{"image_url": image_url(base_url, n),
             "caption": f"A {('square', 'circle')[n % 2]} on a plain background, image {n}.",
             "transcripts": [f"um so this is picture {n}", f"there is a {('square', 'circle')[n % 2]}"]}
            for n in range(count)]


def ama_rows(base_url: str, images: int = 2, per_image: int = 2) -> list[dict[str, Any]]:
    rows = []
    for n in range(images):
        digest = sha256_hex(draw_image(n))
        for q in range(per_image):
            rows.append({"image_url": image_url(base_url, n), "image_sha256": digest,
                         "question": f"Question {q} about image {n}: what shape is shown?",
                         "answer": f"A {('square', 'circle')[n % 2]} (answer {q})."})
    return rows


CHART_CODE = '''import json
from io import BytesIO

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image


def generate_plot(data):
    rows = json.loads(data) if isinstance(data, str) else data
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.{kind}([r["label"] for r in rows], [r["value"] for r in rows], color="{color}")
    ax.set_title("{title}")
    buf = BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf)
'''

COSYN_CHARTS = [("bar", "tab:blue", "Fruit sold"), ("plot", "tab:red", "Rainfall"),
                ("bar", "tab:green", "Votes")]


def render_chart(code: str, data: str) -> bytes:
    """Run a fixture's own ``code`` (never user input) and return the PNG it draws."""
    namespace: dict[str, Any] = {}
    exec(compile(code, "<cosyn-fixture>", "exec"), namespace)  # noqa: S102 - fixed fixture code
    image = namespace["generate_plot"](data)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def cosyn_rows(count: int = 3, *, config: str = "chart", render: bool = True) -> list[dict[str, Any]]:
    """Rows with real chart code and data; ``render=False`` uses drawn shapes (no matplotlib)."""
    rows = []
    for n in range(count):
        kind, color, title = COSYN_CHARTS[n % len(COSYN_CHARTS)]
        values = [{"label": label, "value": (n + 1) * (i + 2)} for i, label in enumerate("ABC")]
        data = json.dumps(values)
        code = CHART_CODE.format(kind=kind, color=color, title=title)
        biggest = max(values, key=lambda r: r["value"])
        rows.append({
            "id": f"{config}_{n:05d}",
            "image": render_chart(code, data) if render else draw_image(n),
            "qa_pairs": {"question": [f"What is the title of the {config}?", "Which label is largest?"],
                         "explanation": [f"The title reads '{title}'.",
                                         f"{biggest['label']} has the value {biggest['value']}."],
                         "answer": [title, biggest["label"]]},
            "metadata": {"figure_type": f"{kind} chart", "persona": "A teacher preparing a worksheet",
                         "topic": title.lower()},
            "data": data,
            "code": code,
        })
    return rows


def write_cap(path: str | Path, base_url: str, rows: Sequence[dict[str, Any]] | None = None,
              **kw: Any) -> Path:
    return write_source("pixmo-cap", path, cap_rows(base_url) if rows is None else rows, **kw)


def write_ama(path: str | Path, base_url: str, rows: Sequence[dict[str, Any]] | None = None,
              **kw: Any) -> Path:
    return write_source("pixmo-ask-model-anything", path, ama_rows(base_url) if rows is None else rows,
                        **kw)


def write_cosyn(path: str | Path, rows: Sequence[dict[str, Any]] | None = None, **kw: Any) -> Path:
    return write_source("cosyn-400k", path, cosyn_rows() if rows is None else rows, **kw)


# --- loopback image server ------------------------------------------------------------------------

@dataclass
class Script:
    """What the server does for one path: fail ``fail_times`` with ``fail_status``, wait ``delay``."""

    fail_times: int = 0
    fail_status: int = 500
    delay: float = 0.0


@dataclass
class ServerState:
    images: dict[str, bytes] = field(default_factory=dict)
    scripts: dict[str, Script] = field(default_factory=dict)
    delay: float = 0.0
    requests: Counter = field(default_factory=Counter)
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body wait ~40 ms on delayed ACKs per request
    server: "_Server"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        state = self.server.state
        path = self.path.split("?", 1)[0]
        with state.lock:
            state.requests[path] += 1
            count = state.requests[path]
            state.active += 1
            state.max_active = max(state.max_active, state.active)
            script = state.scripts.get(path, Script())
        try:
            time.sleep(state.delay + script.delay)
            name = path[len("/img/"):] if path.startswith("/img/") else None
            if count <= script.fail_times:
                self._send(script.fail_status, b"scripted failure", "text/plain")
            elif name is not None and name in state.images:
                self._send(200, state.images[name], "image/png")
            else:
                self._send(404, b"not found", "text/plain")
        finally:
            with state.lock:
                state.active -= 1

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState


class ImageServer:
    """A real HTTP server on 127.0.0.1 (random port) serving ``images`` under ``/img/<name>``.

    ``script(name, fail_times=2, fail_status=500)`` makes a path fail before succeeding; ``delay`` slows
    every response. ``requests[path]`` counts requests, ``max_active`` the most served at once.
    Use as a context manager; it stops the server and joins its thread on exit.
    """

    def __init__(self, images: dict[str, bytes] | None = None, *, delay: float = 0.0) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = ServerState(images=dict(images or {}), delay=delay)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def state(self) -> ServerState:
        return self._server.state

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/img/{name}"

    def script(self, name: str, *, fail_times: int = 0, fail_status: int = 500, delay: float = 0.0) -> str:
        """Script ``/img/<name>`` and return its URL."""
        self.state.scripts[f"/img/{name}"] = Script(fail_times, fail_status, delay)
        return self.url(name)

    @property
    def requests(self) -> Counter:
        return self.state.requests

    @property
    def total_requests(self) -> int:
        return sum(self.state.requests.values())

    @property
    def max_active(self) -> int:
        return self.state.max_active

    def reset_counts(self) -> None:
        with self.state.lock:
            self.state.requests.clear()
            self.state.max_active = 0

    def start(self) -> "ImageServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "ImageServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
