"""``hpo ui --url URL``: the Streamlit control panel on a local port, talking to the API at ``URL``.

The panel is a separate process (``streamlit run services/ui/app.py``). The API token reaches it in
its environment (``HPO_API_TOKEN``), never on a command line or in output; without one the panel asks
for it once per browser session. ``hpo optimize ... --ui`` starts it on the run's own API.
SIGTERM (a supervisor, ``docker stop``) stops ``hpo ui`` as Ctrl-C does: the Streamlit child with it.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
from rich.console import Console

from services.runtime.errors import UserInputError

APP = Path(__file__).resolve().parents[1] / "ui" / "app.py"
READY_SECONDS = 60.0
DEFAULT_PORT = 8501


@dataclass
class Panel:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def check_api_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UserInputError(f"--url must be the API's address, like http://host:8000 (got {url!r})")
    return url.rstrip("/")


def start_panel(api_url: str, *, port: int = DEFAULT_PORT, host: str = "127.0.0.1", token: str | None = None) -> Panel:
    """Start the panel on ``host:port`` (0: a free port) and wait until it answers; its URL is ``Panel.url``."""
    if importlib.util.find_spec("streamlit") is None or importlib.util.find_spec("plotly") is None:
        raise UserInputError("the control panel needs its extra: pip install 'hpo[ui]' (streamlit and plotly)")
    if port == 0:
        port = _free_port(host)
    env = {**os.environ, "HPO_UI_API_URL": check_api_url(api_url)}
    if token:
        env["HPO_API_TOKEN"] = token
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port), "--server.address", host, "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--global.developmentMode", "false", "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    panel = Panel(process, f"http://{host}:{port}")
    try:
        _wait_ready(panel)
    except BaseException:  # not ready, Ctrl-C or SIGTERM while waiting: no panel is left behind
        panel.stop()
        raise
    return panel


def run_ui(api_url: str, port: int, host: str, console: Console, *, open_browser: bool) -> int:
    """``hpo ui``: start the panel, print its address, serve until Ctrl-C."""
    api_url = check_api_url(api_url)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # else Python dies at once and the panel's process lives on
    console.print(f"starting the control panel for {api_url} …")
    panel = start_panel(api_url, port=port, host=host)
    console.print(f"Control panel: [bold]{panel.url}[/bold]  (Ctrl-C stops it)")
    if open_browser:
        webbrowser.open(panel.url)
    try:
        return panel.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        panel.stop()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _wait_ready(panel: Panel) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if panel.process.poll() is not None:
            tail = (panel.process.stderr.read() if panel.process.stderr else b"").decode(errors="replace")
            last = tail.strip().splitlines()[-1] if tail.strip() else f"exit status {panel.process.returncode}"
            raise UserInputError(f"the control panel did not start: {last}")
        try:
            if httpx.get(f"{panel.url}/_stcore/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    panel.stop()
    raise UserInputError(f"the control panel did not answer on {panel.url} within {READY_SECONDS:.0f} s")


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
