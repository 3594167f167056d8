"""What the browser tests share: a real JupyterLab on 127.0.0.1 with its own config, data, runtime,
settings and workspace folders, and Debian's Chromium driven by Playwright.

``tests/test_browser.py`` (01-quickstart) and ``tests/test_labextension.py`` (the "Kernel runs"
panel) start them through :func:`jupyterlab` and :func:`chromium`; :data:`BROWSER_MARKS` skips a test,
saying why, where Chromium or Playwright is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium hangs on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    import playwright.sync_api  # noqa: F401

    HAVE_PLAYWRIGHT = True
except ImportError:
    HAVE_PLAYWRIGHT = False

#: The marks of a browser test: slow, and skipped (saying why) without Chromium or Playwright.
BROWSER_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                       "(apt-get install -y chromium; .ci/run installs it)"),
    pytest.mark.skipif(not HAVE_PLAYWRIGHT, reason="needs the playwright package (pip install -e '.[dev]')"),
]

# Runs first in the server's fresh process (no threads yet, unlike a preexec_fn in pytest's): on
# Linux ask for SIGTERM when pytest dies, so a killed test run leaves no server behind; then become
# JupyterLab (the request survives exec).
_LAUNCH = """
import ctypes, os, signal, sys
if sys.platform.startswith("linux"):
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
os.execv(sys.executable, [sys.executable, "-m", "jupyterlab", *sys.argv[1:]])
"""


@dataclass
class Server:
    url: str
    token: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(settings_dir: Path) -> None:
    """Every cell attached to the DOM (no windowing), and no requests to the internet."""
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@contextlib.contextmanager
def jupyterlab(tmp_path: Path, root: Path, *, env: Mapping[str, str] | None = None,
               args: Sequence[str] = ()) -> Iterator[Server]:
    """JupyterLab serving ``root``, its folders under ``tmp_path`` (``jupyter-data`` is the data dir: no
    user kernelspec shadows the venv's; put lab extensions under it before), ``env`` added to this
    process's environment, ``args`` added to its command line. Stopped (its kernels with it) on exit."""
    _write_settings(tmp_path / "lab-settings")
    port, token = _free_port(), secrets.token_hex(16)
    full_env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        **(env or {}),
    }
    log = tmp_path / "jupyterlab.log"
    command = [
        sys.executable, "-c", _LAUNCH, "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",  # CI machines run as root
        "--ServerApp.terminals_enabled=False", "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run all cells, read the cells' outputs
        *args,
    ]
    with log.open("w") as out:
        server = subprocess.Popen(command, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield Server(url=url, token=token, log=log)
    finally:
        server.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def chromium(pw: Any, profile: Path, *, width: int, height: int) -> tuple[Any, Any]:
    """Headless Chromium (a fresh profile at ``profile``) and its page, 60 s the default timeout."""
    context = pw.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        viewport={"width": width, "height": height},
    )
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(60_000)
    return context, page


def wait_idle(page: Any) -> None:
    """Until the current notebook's kernel is idle (at most 3 minutes)."""
    page.wait_for_function(
        "() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
        timeout=180_000,
    )
