"""A worker's copy of every recorded data version, kept current by ``LISTEN movrec_asset_state``.

Each change of ``movrec.asset_state`` is announced when its transaction commits (a trigger, ``sql/warehouse/
schema.sql``), so the API answers a ``304`` without touching the database and tags a stored list without a
transaction around it. The copy is read *before* the list: a list can then only be newer than its tag, never older,
and a newer list under an older tag is simply sent again on the next revalidation. While the listening connection is
down the copy is ``None`` and callers read the versions from the database, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

import psycopg

from movrec_pipeline.query.versions import all_data_versions, listen_for_versions

log = logging.getLogger("movrec.api")


class VersionCache:
    """Every ``asset -> data version``, or ``None`` while not listening; a daemon thread keeps it current."""

    def __init__(self, url: Callable[[], str], *, wait_s: float = 1.0, retry_s: float = 2.0) -> None:
        self._url = url
        self._wait_s, self._retry_s = wait_s, retry_s
        self._versions: Mapping[str, str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.attempts = 0  # connections tried so far (a test can wait on it instead of sleeping)

    def current(self) -> Mapping[str, str] | None:
        """The latest copy (replaced whole, never changed in place), or None while the listener is down."""
        return self._versions

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._listen, name="movrec-version-cache", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._wait_s + 5)
            self._thread = None
        self._versions = None

    def _listen(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self.attempts += 1
            try:
                with psycopg.connect(self._url(), autocommit=True, application_name="movrec-api-versions") as conn:
                    listen_for_versions(conn)  # before the first read: no change falls between the two
                    self._versions = all_data_versions(conn)
                    if failures:
                        log.info("data-version listener up again")
                    failures = 0
                    while not self._stop.is_set():
                        if any(True for _ in conn.notifies(timeout=self._wait_s, stop_after=1)):
                            self._versions = all_data_versions(conn)  # the burst's later notices re-read cheaply
            except Exception as exc:  # any failure: fall back to reading the versions per request
                self._versions = None
                failures += 1
                if failures == 1:
                    log.warning("data-version listener down (%s); reading versions per request",
                                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
                self._stop.wait(self._retry_s)
