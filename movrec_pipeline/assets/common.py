"""Shared bits of asset wiring: owners, retry policies, error translation, check factories."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dagster as dg
import pandas as pd

from movrec_pipeline.errors import MovrecError, TransientEmbeddingError
from movrec_pipeline.quality import gx
from movrec_pipeline.resources import PostgresResource

OWNERS = ["team:movrec"]
DB_POOL = "movrec_db_heavy"  # DDL, restores, index builds and table swaps
EMBEDDING_API_POOL = "movrec_embedding_api"

# Downstream of the embeddings: refresh after an upstream update (e.g. a manual backfill), but only when
# every blocking check of the parents passed — also when the parents ran in another run.
DOWNSTREAM = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager once upstream blocking checks passed")

DB_RETRY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


@contextmanager
def permanent_errors() -> Iterator[None]:
    """Turn our one-line errors into a Dagster Failure; only transient ones may be retried."""
    try:
        yield
    except TransientEmbeddingError as exc:
        raise dg.Failure(str(exc), allow_retries=True) from None
    except MovrecError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None


def column_schema(columns: Sequence[tuple[str, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, type_) for name, type_ in columns])


def read_frame(postgres: PostgresResource, query: str, params: Sequence[object] = ()) -> pd.DataFrame:
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def gx_asset_check(
    asset: str, name: str, query: str, expectations: list[gx.Expect], description: str
) -> dg.AssetChecksDefinition:
    """A blocking asset check that validates the rows of ``query`` with Great Expectations."""

    @dg.asset_check(asset=asset, name=name, blocking=True, description=description)
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        frame = read_frame(postgres, query)
        outcomes = gx.validate(frame, expectations, name)
        failed = [o for o in outcomes if not o.success]
        metadata: dict[str, dg.MetadataValue | int | str] = {
            "expectations": len(outcomes),
            "failed": len(failed),
            "rows_checked": len(frame),
            "results": dg.MetadataValue.md(
                "| expectation | ok | unexpected | examples |\n|---|---|---|---|\n"
                + "\n".join(f"| {o.expectation} | {'✅' if o.success else '❌'} | {o.unexpected} | "
                            f"{', '.join(map(str, o.examples))[:80]} |" for o in outcomes)
            ),
        }
        return dg.AssetCheckResult(passed=not failed, metadata=metadata,
                                   severity=dg.AssetCheckSeverity.ERROR)

    return _check


def skip_unchanged(context: dg.AssetExecutionContext, postgres: PostgresResource, count_sql: str,
                   params: tuple = ()) -> dg.MaterializeResult:
    """Materialization of an asset whose inputs did not change: the table stays as it is."""
    context.log.info("inputs unchanged since the last build: keeping the table")
    with postgres.connect() as conn:
        rows = conn.execute(count_sql, params).fetchone()[0]
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "rebuilt": False})
