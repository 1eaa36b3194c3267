"""Write–audit–publish for the source assets: stage frames, audit them, publish them together or not at all."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence

import dagster as dg
import pandas as pd
import psycopg

from movrec_pipeline.core.errors import SourceDataError
from movrec_pipeline.defs.failures import permanent_errors
from movrec_pipeline.defs.resources import PostgresResource
from movrec_pipeline.defs.sources import audits
from movrec_pipeline.warehouse import fingerprints, publish
from movrec_pipeline.warehouse.tables import copy_frame

LOADER_VERSION = "wap-2"  # bump when loading changes what a file publishes


class SourceLoadConfig(dg.Config):
    """Run config of the source assets: how far a new file may shrink a published table."""

    allow_shrink: bool = False  # also MOVREC_ALLOW_SHRINK=1
    max_shrink: float = audits.DEFAULT_MAX_SHRINK


def audit_failure(report: audits.AuditReport, source: str) -> dg.Failure:
    """The one-line refusal, with the staged and published figures as metadata."""
    metadata: dict[str, int | str] = {f"staged_rows: {t}": n for t, n in report.staged_rows.items()}
    metadata.update({f"published_rows: {t}": n for t, n in report.published_rows.items()})
    metadata["problems"] = " | ".join(report.problems)
    return dg.Failure(report.message(source), metadata=metadata, allow_retries=False)


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


def inputs_fingerprint(*parts: object) -> str:
    """What a source load depends on: its files' checksums, the release, the loader's version."""
    return fingerprints.combine(LOADER_VERSION, *parts)


def published_unchanged(postgres: PostgresResource, asset: str, fingerprint: str, tables: Sequence[str]) -> bool:
    """True when the last publish of ``asset`` came from exactly these inputs and its tables are all there."""
    with postgres.connect() as conn:
        present = all(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (t,)).fetchone()[0] for t in tables)
        return present and fingerprints.is_current(conn, asset, fingerprint)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def load_and_publish(postgres: PostgresResource, config: SourceLoadConfig, source: str, asset: str,
                     frames: Mapping[str, tuple[pd.DataFrame, Sequence[str]]],
                     after: Callable[[psycopg.Connection], None] | None = None,
                     fingerprint: str | None = None) -> audits.AuditReport:
    """Stage ``frames`` (placeholder -> rows, columns), audit them, and publish all of them in one transaction.

    A failed audit raises a one-line :class:`dg.Failure` and leaves every published table as it was; so does
    a row the database refuses. ``after(conn)`` runs inside the publishing transaction.
    """
    with postgres.connect(autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"movrec.load.{source}",))
        stages: dict[str, publish.Stage] = {}
        try:
            with permanent_errors():
                stage_frames(conn, frames, stages)
            with permanent_errors():
                report = audits.audit(conn, postgres.url(), asset, {n: s.staged for n, s in stages.items()},
                                      allow_shrink=config.allow_shrink or audits.allow_shrink_from_env(),
                                      max_shrink=config.max_shrink)
            if not report.passed:
                raise audit_failure(report, source)
            def finish(c: psycopg.Connection) -> None:
                if after is not None:
                    after(c)
                if fingerprint is not None:  # the next run with the same inputs keeps the tables as they are
                    fingerprints.record(c, asset, fingerprint)

            publish.publish(conn, list(stages.values()), after=finish)
        finally:
            with contextlib.suppress(psycopg.Error):  # a cut connection: the next load drops the stages itself
                for stage in stages.values():
                    publish.drop_stage(conn, stage)  # nothing left once published (the stage moved into place)
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"movrec.load.{source}",))
    return report
