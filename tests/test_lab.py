"""`make lab`: JupyterLab serves the notebooks and starts this project's kernel on one."""

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/01_plain_vs_residual.ipynb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab` on a free port with a random token, in this test's environment."""
    if not (Path(sys.prefix) / ".installed").exists():
        pytest.skip("runs `make lab` in the environment `make env` built (the README's test command)")
    port, token = _free_port(), secrets.token_hex(16)
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --IdentityProvider.token={token}"
    log = tmp_path_factory.mktemp("lab") / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(["make", "-s", "lab", f"VENV={sys.prefix}", f"LAB_ARGS={args}"],
                                  cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def call(path, method="GET", body=None):
        req = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if "json" in r.headers.get("Content-Type", "") else text)

    deadline = time.time() + 90
    while True:
        try:
            call("/api/status")
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.5)
    call.base, call.token = base, token
    yield call
    import os
    import signal

    os.killpg(server.pid, signal.SIGTERM)  # make and the server under it
    server.wait(timeout=30)


@pytest.mark.slow
def test_make_lab_serves_a_notebook_and_starts_the_projects_kernel_on_it(lab):
    status, page = lab("/lab/tree/" + NOTEBOOK)
    assert status == 200 and "JupyterLab" in page
    status, model = lab(f"/api/contents/{NOTEBOOK}?content=1")
    assert model["type"] == "notebook" and any("notebook.setup" in "".join(c["source"])
                                               for c in model["content"]["cells"])
    # the kernel a notebook gets is this environment's python (so resnet_lib and torch import)
    _, specs = lab("/api/kernelspecs")
    argv = specs["kernelspecs"][specs["default"]]["spec"]["argv"]
    assert Path(argv[0]).resolve() == Path(sys.executable).resolve() or argv[0] == "python"
    _, session = lab("/api/sessions", "POST", {"path": NOTEBOOK, "type": "notebook",
                                               "kernel": {"name": specs["default"]}})
    kernel = session["kernel"]["id"]
    out = _execute(lab.base, lab.token, kernel, "import os, resnet_lib; print(os.getcwd())")
    assert Path(out.strip()) == ROOT / "notebooks"  # where papermill runs them too
    lab(f"/api/sessions/{session['id']}", "DELETE")


def _execute(base: str, token: str, kernel: str, code: str, timeout: float = 120) -> str:
    """Run `code` on a kernel through the server's websocket (Jupyter's messaging protocol,
    JSON over /api/kernels/<id>/channels); its stdout, or the error it raised."""
    import asyncio
    import uuid

    from tornado.websocket import websocket_connect

    async def run():
        url = base.replace("http", "ws") + f"/api/kernels/{kernel}/channels?token={token}"
        ws = await websocket_connect(url)
        msg_id = uuid.uuid4().hex
        await ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                       "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False}}))
        out = []
        while True:
            msg = json.loads(await ws.read_message())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                raise AssertionError(f"{content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                ws.close()
                return "".join(out)

    return asyncio.run(asyncio.wait_for(run(), timeout))
