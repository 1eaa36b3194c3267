"""Data versions: each asset's version says what it was built from; unchanged inputs mean no work.

An asset's data version is a digest of its code version, its settings, the warehouse it writes, and the current
data versions of its dependencies as Dagster recorded them (a partitioned dependency: over its partitions). When
the asset's last materialization (of this partition) carries that same version, the asset keeps its tables and
records the version again; the UI shows an asset as stale exactly when a dependency's version moved on. The
sources' versions are the checksums of their files.
"""

from __future__ import annotations

import dagster as dg

from movrec_pipeline.defs.resources import PostgresResource
from movrec_pipeline.warehouse import fingerprints

DATA_VERSION_TAG = "dagster/data_version"  # the tag Dagster records a materialization's data version in


def _tag_version(record: dg.EventLogRecord | None) -> str | None:
    if record is None or record.asset_materialization is None:
        return None
    return record.asset_materialization.tags.get(DATA_VERSION_TAG)


def latest(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, key: dg.AssetKey,
           partition: str | None = None) -> str | None:
    """The data version of the latest materialization of ``key`` (of one partition), or None."""
    return _tag_version(context.instance.get_latest_data_version_record(key, is_source=False, partition_key=partition))


def dependency_versions(context: dg.AssetExecutionContext, key: dg.AssetKey | None = None) -> dict[str, object]:
    """Current data version of each dependency of ``key`` (default: the asset being materialized)."""
    key = key or context.asset_key
    out: dict[str, object] = {}
    for dep in sorted(context.assets_def.asset_deps[key], key=lambda k: k.to_user_string()):
        partitions = sorted(context.instance.get_materialized_partitions(dep))
        out[dep.to_user_string()] = [(p, latest(context, dep, p)) for p in partitions] if partitions else latest(
            context, dep)
    return out


def inputs_version(context: dg.AssetExecutionContext, postgres: PostgresResource, *settings: object,
                   key: dg.AssetKey | None = None) -> str:
    """The data version ``key`` gets when built now: code version, warehouse, dependencies' versions, settings."""
    key = key or context.asset_key
    with postgres.connect() as conn:
        warehouse = fingerprints.warehouse_identity(conn)
    return fingerprints.combine(context.assets_def.code_versions_by_key.get(key), warehouse,
                                dependency_versions(context, key), settings)


def unchanged(context: dg.AssetExecutionContext, version: str, key: dg.AssetKey | None = None,
              partition: str | None = None) -> bool:
    """Whether the last materialization of ``key`` (of ``partition``) already has ``version``."""
    return latest(context, key or context.asset_key, partition) == version


def kept(context: dg.AssetExecutionContext, version: str, rows: int | None, key: dg.AssetKey | None = None,
         **extra: object) -> dg.MaterializeResult:
    """Materialization of an asset whose inputs did not change: its tables stay as they are."""
    context.log.info("inputs unchanged since the last build: keeping %s", (key or context.asset_key).to_user_string())
    metadata: dict[str, object] = {"rebuilt": False, **extra}
    if rows is not None:
        metadata["dagster/row_count"] = int(rows)
    return dg.MaterializeResult(asset_key=key, metadata=metadata, data_version=dg.DataVersion(version))
