"""A real ``movrec serve`` process on 127.0.0.1 (free port) over the session's materialized warehouse."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_DIR / "test-artifacts"
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ApiServer:
    url: str
    proc: subprocess.Popen
    log: Path

    def log_tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return "(no log)"


def start_server(name: str, *args: str, env: dict[str, str] | None = None, wait: bool = True,
                 host: str = "127.0.0.1") -> ApiServer:
    """``movrec serve --port <free> *args`` in its own session; waits for /livez unless ``wait`` is false."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    log = ARTIFACTS / f"api_{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "movrec_pipeline.cli", "serve", "--host", host, "--port",
                                 str(port), *args], env=env or dict(os.environ), cwd=PROJECT_DIR, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = ApiServer(f"http://127.0.0.1:{port}", proc, log)
    if wait:
        wait_live(server)
    return server


def wait_live(server: ApiServer, path: str = "/livez", timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"movrec serve exited with {server.proc.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + path, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"movrec serve did not answer in {timeout} s:\n{server.log_tail()}")


def stop_server(server: ApiServer) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGTERM)
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def api(pipeline) -> Iterator[ApiServer]:
    """The API on the session's warehouse (the pipeline fixture's fake provider settings are in os.environ)."""
    server = start_server("session")
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def client(api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=60) as c:
        yield c
