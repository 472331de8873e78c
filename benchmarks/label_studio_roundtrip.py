"""Label Studio itself reads babelvl's labeling configs and tasks, and its export reads back into babelvl.

For every shipped protocol (esa, mqm, likert, postedit): ``babelvl annotate export --format labelstudio
--labeling-config`` writes tasks and the XML; a real Label Studio server (PyPI ``label-studio``, in a
peer venv, on loopback) creates a project from that XML (Label Studio validates it), imports the tasks,
takes one annotation through its API (the result JSON its editor sends: Labels regions on the target,
per-region severity Choices, Number, Choices, TextArea), exports the project as JSON, and
``babelvl annotate import --users`` (Label Studio's integer ``completed_by`` -> our annotator name)
turns it into annotations, which must hold exactly the answers given.

Why a script and not a test: installing Label Studio takes about 2 minutes and its first start (Django
migrations) about 2 more on a 2-core machine; that is too much for every CI run. Run it by hand:

    python benchmarks/label_studio_roundtrip.py            # installs (cached), starts, checks, stops
    python benchmarks/label_studio_roundtrip.py --url http://127.0.0.1:8080 --email E --password P

It prints the install and start times and one line per protocol; the exit status is 0 only when every
protocol round-tripped.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from babelvl.cli import main as babelvl
from babelvl.quality.protocols import load_protocol
from babelvl.quality.schema import Assignment, SampleItem

LABEL_STUDIO = "label-studio==1.23.2"
EMAIL, PASSWORD = "admin@example.com", "babelvl-Roundtrip-1"
TARGET = "Welche Farbe hat das Auto?"


def install() -> tuple[Path, float]:
    from babelvl.testing.peers import peer_python

    started = time.perf_counter()
    python = peer_python("label-studio", [LABEL_STUDIO])
    # The peer venv sees the base interpreter's site-packages. Label Studio depends on the PyPI package
    # ``attr`` (a module attr.py), which shadows ``attrs``' own ``attr`` package of the base site-packages
    # and breaks jsonschema. In a venv of its own Label Studio gets attrs installed beside it, whose
    # package directory wins over attr.py; installing attrs into the peer venv restores exactly that.
    check = subprocess.run([str(python), "-c", "import attr; attr.NOTHING"], capture_output=True)
    if check.returncode != 0:
        import attrs

        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--ignore-installed", "--no-deps", f"attrs=={attrs.__version__}"], check=True)
    return python, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(python: Path, data_dir: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = {**os.environ, "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "", "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "false"}
    log = open(data_dir / "label-studio.log", "w")
    started = time.perf_counter()
    server = subprocess.Popen([str(python), "-m", "label_studio.server", "start", "--no-browser", "-p", str(port),
                               "--internal-host", "127.0.0.1", "--data-dir", str(data_dir / "ls"),
                               "--username", EMAIL, "--password", PASSWORD],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - started < 900:
        if server.poll() is not None:
            raise RuntimeError(f"Label Studio exited ({server.returncode}); see {data_dir / 'label-studio.log'}")
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return server, url, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(1)
    server.terminate()
    raise RuntimeError("Label Studio did not answer /health within 900 s")


def login(url: str, email: str, password: str) -> httpx.Client:
    """A session like the browser's (legacy API tokens are off by default since Label Studio 1.17)."""
    client = httpx.Client(base_url=url, timeout=120)
    client.get("/user/login/")
    r = client.post("/user/login/", data={"email": email, "password": password,
                                          "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                    headers={"Referer": url + "/user/login/"})
    if r.status_code != 302:
        raise RuntimeError(f"login to Label Studio failed ({r.status_code})")
    client.headers.update({"X-CSRFToken": client.cookies["csrftoken"], "Referer": url + "/"})
    return client


def region(rid: str, name: str, start: int, end: int, shown: str, kind: str, key: str, value: list[str]) -> dict:
    return {"id": rid, "from_name": name, "to_name": "target", "type": kind, "origin": "manual",
            "value": {"start": start, "end": end, "text": shown[start:end], key: value}}


def answer(protocol_name: str, shown: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """What an annotator enters in Label Studio's editor, and the values babelvl must read from it."""
    token = shown.index("[MISSING]") if "[MISSING]" in shown else None
    if protocol_name == "esa":
        return ([region("a", "spans", 0, 6, shown, "labels", "labels", ["major"]),
                 region("b", "spans", token, token + 9, shown, "labels", "labels", ["minor"]),
                 {"id": "c", "from_name": "score", "to_name": "target", "type": "number", "value": {"number": 72}},
                 {"id": "d", "from_name": "comment", "to_name": "target", "type": "textarea",
                  "value": {"text": ["checked in Label Studio"]}}],
                {"score": 72, "comment": "checked in Label Studio",
                 "spans": [{"start": 0, "end": 6, "severity": "major", "text": "Welche"},
                           {"start": None, "end": None, "severity": "minor"}]})
    if protocol_name == "mqm":
        return ([region("a", "errors", 0, 6, shown, "labels", "labels", ["accuracy/mistranslation"]),
                 region("a", "errors_severity", 0, 6, shown, "choices", "choices", ["major"]),
                 region("b", "errors", token, token + 9, shown, "labels", "labels", ["accuracy/omission"]),
                 region("b", "errors_severity", token, token + 9, shown, "choices", "choices", ["critical"])],
                {"errors": [{"start": 0, "end": 6, "severity": "major", "category": "accuracy/mistranslation",
                             "text": "Welche"},
                            {"start": None, "end": None, "severity": "critical", "category": "accuracy/omission"}]})
    if protocol_name == "likert":
        return ([{"id": "a", "from_name": "adequacy", "to_name": "target", "type": "choices",
                  "value": {"choices": ["4"]}},  # a Choice's alias (the number) is what the editor stores
                 {"id": "b", "from_name": "fluency", "to_name": "target", "type": "choices",
                  "value": {"choices": ["2"]}}],
                {"adequacy": 4, "fluency": 2})
    return ([{"id": "a", "from_name": "post_edit", "to_name": "target", "type": "textarea",
              "value": {"text": ["Welche Farbe hat dieses Auto?"]}}],
            {"post_edit": "Welche Farbe hat dieses Auto?"})


def roundtrip(client: httpx.Client, protocol_name: str, work: Path) -> tuple[bool, str]:
    work.mkdir()
    plan = work / "plan"
    plan.mkdir()
    items = [SampleItem(f"mme:de:{i}:question", "de", "mme", "question", "What colour is the car?", TARGET)
             for i in range(2)]
    (plan / "items.jsonl").write_text("".join(json.dumps(it.to_json()) + "\n" for it in items))
    (plan / "assignments.jsonl").write_text("".join(json.dumps(Assignment(it.item_id, "ana").__dict__) + "\n"
                                                    for it in items))
    tasks, config = work / "tasks.json", work / "config.xml"
    if babelvl(["annotate", "export", "--plan", str(plan), "--protocol", protocol_name, "--format", "labelstudio",
                "--out", str(tasks), "--labeling-config", str(config)]) != 0:
        return False, "babelvl annotate export failed"
    r = client.post("/api/projects", json={"title": f"babelvl {protocol_name}", "label_config": config.read_text()})
    if r.status_code != 201:
        return False, f"Label Studio refused the labeling config: {r.status_code} {r.text[:500]}"
    project = r.json()["id"]
    r = client.post(f"/api/projects/{project}/import", json=json.loads(tasks.read_text()))
    if r.status_code != 201:
        return False, f"Label Studio refused the tasks: {r.status_code} {r.text[:500]}"
    listed = client.get("/api/tasks", params={"project": project}).json()
    listed = listed.get("tasks", listed) if isinstance(listed, dict) else listed
    task = next(t for t in listed if t["data"]["id"] == items[0].item_id)
    result, expected = answer(protocol_name, task["data"]["target"])
    r = client.post(f"/api/tasks/{task['id']}/annotations", json={"result": result, "lead_time": 12.5})
    if r.status_code != 201:
        return False, f"Label Studio refused the annotation: {r.status_code} {r.text[:500]}"
    export = work / "export.json"
    r = client.get(f"/api/projects/{project}/export", params={"exportType": "JSON"})
    export.write_bytes(r.content)
    user = client.get("/api/current-user/whoami").json()["id"]
    users = work / "users.json"
    users.write_text(json.dumps({str(user): "ana"}))
    out = work / "annotations.jsonl"
    if babelvl(["annotate", "import", "--plan", str(plan), "--protocol", protocol_name, "--format", "labelstudio",
                "--data", str(export), "--users", str(users), "--out", str(out)]) != 0:
        return False, "babelvl annotate import refused Label Studio's export"
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    ok = (record["values"] == expected and record["annotator"] == "ana" and record["seconds"] == 12.5
          and record["item_id"] == items[0].item_id and record["protocol"] == load_protocol(protocol_name).name)
    return ok, (f"completed_by={user} -> ana, values {record['values']}" if ok
                else f"read back {record}, expected values {expected}")


def run() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="use this running Label Studio instead of starting one")
    parser.add_argument("--email", default=EMAIL)
    parser.add_argument("--password", default=PASSWORD)
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory(prefix="babelvl-ls-") as tmp:
        work = Path(tmp)
        try:
            if args.url:
                url = args.url
            else:
                python, install_s = install()
                print(f"install (or cached venv): {install_s:.1f} s")
                server, url, start_s = start(python, work)
                print(f"Label Studio start until /health answers: {start_s:.1f} s")
            client = login(url, args.email, args.password)
            broken = '<View><Text name="target" value="$target"/><Labels name="spans" toName="nowhere">' \
                     '<Label value="minor"/></Labels></View>'
            refused = client.post("/api/projects", json={"title": "broken", "label_config": broken}).status_code
            print(f"a broken labeling config is refused by Label Studio: {refused == 400} (HTTP {refused})")
            results = {"validates configs": refused == 400}
            for name in ("esa", "mqm", "likert", "postedit"):
                ok, detail = roundtrip(client, name, work / name)
                results[name] = ok
                print(f"{name}: {'round-tripped' if ok else 'FAILED'}: {detail}", flush=True)
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(run())
