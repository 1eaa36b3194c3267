"""Run the API under granian (why, and how the choice is measured: docs/api.md), one or more worker processes.

The settings reach every worker through the environment (``MOVREC_API_*``), so ``--host/--port/--workers`` are
written there before the workers start; each worker builds its app with :func:`movrec_pipeline.api.app.create_app`.
SIGTERM or SIGINT stops granian, which stops its workers and waits for them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from movrec_pipeline.api import auth
from movrec_pipeline.core.settings import ApiSettings

TARGET = "movrec_pipeline.api.app:create_app"


@contextlib.contextmanager
def _multiprocess_metrics(workers: int) -> Iterator[None]:
    """With several workers, Prometheus metrics go through a shared directory (and are summed by /metrics)."""
    if workers < 2 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    folder = tempfile.mkdtemp(prefix="movrec-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(folder, ignore_errors=True)


def run(host: str, port: int, workers: int) -> int:
    """Serve until stopped; refuses (MovrecError) a non-loopback host without API keys, before any worker starts."""
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    os.environ.update({"MOVREC_API_HOST": host, "MOVREC_API_PORT": str(port), "MOVREC_API_WORKERS": str(workers)})
    settings = ApiSettings.from_env()
    auth.check_binding(settings.host, auth.parse_hashes(settings.key_hashes))
    print(f"movrec API on http://{host}:{port} (docs: /docs, OpenAPI: /openapi.json), {workers} worker(s)",
          flush=True)
    with _multiprocess_metrics(workers):
        Server(TARGET, address=host, port=port, interface=Interfaces.ASGI, workers=workers, factory=True,
               loop=Loops.uvloop, log_level=LogLevels.warning, backlog=2048).serve()
    return 0
