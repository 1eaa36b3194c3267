"""SIGTERM to ``movrec serve`` or ``movrec dev --api`` stops every process they started: no orphan holds a port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from movrec_pipeline_tests.api.conftest import ARTIFACTS, PROJECT_DIR, ApiServer, free_port, start_server, wait_live

pytestmark = pytest.mark.slow
DEV_START_S = 300


def descendants(pid: int) -> list[psutil.Process]:
    """Live descendants, the embedded PostgreSQL left out (it is shared and outlives its starter by design)."""
    out = []
    for proc in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if proc.name() != "postgres" and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
    return out


def cmdlines(pid: int) -> list[str]:
    out = []
    for proc in descendants(pid):
        with contextlib.suppress(psutil.Error):
            out.append(" ".join(proc.cmdline()))
    return out


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def terminate_and_check(proc: subprocess.Popen, ports: list[int], timeout: float = 90) -> None:
    family = descendants(proc.pid)
    assert family, "the server started no child process"
    proc.send_signal(signal.SIGTERM)  # to the parent only, as a supervisor does
    proc.wait(timeout=timeout)
    left = []
    for child in family:
        with contextlib.suppress(psutil.Error):
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{child.pid} {' '.join(child.cmdline())[:120]}")
    try:
        assert not left, f"orphans after SIGTERM: {left}"
        assert all(port_free(p) for p in ports), ports
    finally:
        for child in family:
            with contextlib.suppress(psutil.Error):
                child.kill()


def test_sigterm_to_movrec_serve_stops_its_workers(pipeline) -> None:
    server = start_server("sigterm", "--workers", "2")
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert c.get("/v1/users/7/recommendations").status_code == 200
        assert "movrec_api_requests_total" in c.get("/metrics").text
    port = int(server.url.rsplit(":", 1)[1])
    terminate_and_check(server.proc, [port])
    assert server.proc.returncode == 0


def test_sigterm_to_movrec_dev_stops_dagster_and_the_api(pipeline) -> None:
    ui_port, api_port = free_port(), free_port()
    log = ARTIFACTS / "api_movrec_dev.log"
    ARTIFACTS.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "MOVREC_DAGSTER_PG_URL")}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "movrec_pipeline.cli", "dev", "--port", str(ui_port), "--api",
                                 "--api-port", str(api_port)], env=env, cwd=PROJECT_DIR, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_live(ApiServer(f"http://127.0.0.1:{api_port}", proc, log), timeout=DEV_START_S)
        wait_live(ApiServer(f"http://127.0.0.1:{ui_port}", proc, log), "/server_info", timeout=DEV_START_S)
        deadline = time.monotonic() + DEV_START_S  # the daemon comes up beside the webserver
        while time.monotonic() < deadline and not any("daemon" in line for line in cmdlines(proc.pid)):
            time.sleep(1)
        terminate_and_check(proc, [ui_port, api_port])
        assert proc.returncode == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
