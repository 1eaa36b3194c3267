"""Write–audit–publish of parsed sources: stage the frames, audit them, publish them together or not at all.

No Dagster here: a refused audit raises :class:`AuditRefused` (carrying the report), a row the database refuses
a :class:`SourceDataError`; in both cases every published table is as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence

import pandas as pd
import psycopg

from movrec_pipeline.core.errors import MovrecError, SourceDataError
from movrec_pipeline.ingest import audits
from movrec_pipeline.warehouse import connection, fingerprints, publish
from movrec_pipeline.warehouse.tables import copy_frame

LOADER_VERSION = "wap-2"  # bump when loading changes what a file publishes


class AuditRefused(MovrecError):
    """The staged tables failed their audit: nothing was published."""

    def __init__(self, report: audits.AuditReport, source: str) -> None:
        super().__init__(report.message(source))
        self.report = report


def stage_frames(conn: psycopg.Connection, frames: Mapping[str, tuple[pd.DataFrame, Sequence[str]]],
                 stages: dict[str, publish.Stage]) -> None:
    """COPY each frame into a fresh stage of its published table (recorded in ``stages`` as soon as it
    exists, so a failure can drop it), then index it like the published one."""
    for name, (frame, columns) in frames.items():
        schema, table = audits.PUBLISHED[name]
        stage = stages[name] = publish.create_stage(conn, schema, table)
        try:
            copy_frame(conn, *stage.staged, frame, columns)
        except psycopg.errors.DataError as exc:
            raise SourceDataError(f"{schema}.{table}: the database refused a row ({_first_line(exc)})") from None
        except psycopg.errors.IntegrityError as exc:
            raise SourceDataError(f"{schema}.{table}: a row breaks a constraint ({_first_line(exc)})") from None
        publish.index_stage(conn, stage)


def source_version(*parts: object) -> str:
    """A source load's data version: its files' checksums, the release, the loader's version."""
    return fingerprints.combine(LOADER_VERSION, *parts)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def load_and_publish(url: str, source: str, asset: str, frames: Mapping[str, tuple[pd.DataFrame, Sequence[str]]],
                     *, allow_shrink: bool, max_shrink: float, floors: Mapping[str, int] | None = None,
                     after: Callable[[psycopg.Connection], None] | None = None,
                     version: str | None = None) -> audits.AuditReport:
    """Stage ``frames`` (placeholder -> rows, columns), audit them, and publish all of them in one transaction.

    ``after(conn)`` runs inside the publishing transaction; ``version`` is recorded there as the data version the
    tables now hold. Returns the audit's report; raises :class:`AuditRefused` when the audit fails.
    """
    lock = f"movrec.load.{source}"
    with connection.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock,))
        stages: dict[str, publish.Stage] = {}
        try:
            stage_frames(conn, frames, stages)
            report = audits.audit(conn, url, asset, {n: s.staged for n, s in stages.items()},
                                  allow_shrink=allow_shrink, max_shrink=max_shrink, floors=floors)
            if not report.passed:
                raise AuditRefused(report, source)

            def finish(c: psycopg.Connection) -> None:
                if after is not None:
                    after(c)
                if version is not None:
                    fingerprints.record(c, asset, version)

            publish.publish(conn, list(stages.values()), after=finish)
        finally:
            with contextlib.suppress(psycopg.Error):  # a cut connection: the next load drops the stages itself
                for stage in stages.values():
                    publish.drop_stage(conn, stage)  # nothing left once published (the stage moved into place)
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock,))
    return report
