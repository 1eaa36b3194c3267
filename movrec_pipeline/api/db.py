"""The warehouse behind the API: a ``psycopg_pool`` pool and the worker threads that run the (synchronous) query
functions on it.

Every recorded data version is also kept in the process (:mod:`movrec_pipeline.api.version_cache`), for ETags.

The query API is plain blocking psycopg, so each call runs in a worker thread; a capacity limiter as large as the
pool keeps threads from ever queueing for a connection (FastAPI's default of 40 threads on an 8-connection pool
would). The pool opens in the lifespan handler; when the warehouse does not exist yet, it opens on the first
request that finds it (until then: 503 with the CLI's "materialize …" line).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
import psycopg
from psycopg_pool import ConnectionPool

from movrec_pipeline.api.problems import ProblemError
from movrec_pipeline.api.version_cache import VersionCache
from movrec_pipeline.core.settings import ApiSettings
from movrec_pipeline.query.pool import open_pool, pooled
from movrec_pipeline.query.session import warehouse_url

T = TypeVar("T")


class Database:
    """The pool, the thread limiter and the request time limit of one worker process."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.pool: ConnectionPool | None = None
        self.limiter = anyio.CapacityLimiter(settings.pool_size)
        self._lock = threading.Lock()
        self.versions = VersionCache(warehouse_url)

    def open(self) -> None:
        """Open the pool if the warehouse exists (raises NotMaterializedError otherwise)."""
        with self._lock:
            if self.pool is None:
                self.pool = open_pool(min_size=min(2, self.settings.pool_size), max_size=self.settings.pool_size,
                                      timeout_s=self.settings.timeout_seconds,
                                      statement_timeout_ms=int(self.settings.timeout_seconds * 1000))
                self.versions.start()

    def close(self) -> None:
        self.versions.stop()
        with self._lock:
            if self.pool is not None:
                self.pool.close()
                self.pool = None

    def _call(self, work: Callable[[psycopg.Connection], T]) -> T:
        if self.pool is None:
            self.open()
        assert self.pool is not None
        with pooled(self.pool) as conn:
            return work(conn)

    async def run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """``work(conn)`` on a pooled connection in a worker thread, within the request time limit."""
        try:
            with anyio.fail_after(self.settings.timeout_seconds):
                return await anyio.to_thread.run_sync(self._call, work, limiter=self.limiter, abandon_on_cancel=True)
        except TimeoutError:
            raise ProblemError("timeout", f"the request took longer than {self.settings.timeout_seconds:g} s "
                               "(MOVREC_API_TIMEOUT_SECONDS)") from None

    def stats(self) -> dict[str, int]:
        return dict(self.pool.get_stats()) if self.pool is not None else {}
