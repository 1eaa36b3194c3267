"""Process environment for Dagster: DAGSTER_HOME, the instance database and offline model paths."""

from __future__ import annotations

import os
import shutil

from movrec_pipeline.core import paths
from movrec_pipeline.core.errors import MovrecError
from movrec_pipeline.core.settings import RunSettings
from movrec_pipeline.defs.policies import POOL_LIMITS
from movrec_pipeline.warehouse import connection


def prepare_environment() -> dict[str, str]:
    """Set the variables every Dagster process of the project needs; returns them.

    DAGSTER_HOME is an absolute directory under ``$MOVREC_HOME`` (unless already set) holding a copy of
    the project's ``dagster.yaml``; the instance storage is a separate database from the warehouse.
    """
    home = paths.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(paths.PROJECT_DIR / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "MOVREC_DAGSTER_PG_URL": connection.sqlalchemy_url(connection.dagster_storage_url(
            os.environ.get("MOVREC_DAGSTER_PG_URL"))),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "GX_ANALYTICS_ENABLED": "False",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TRANSFORMERS_VERBOSITY": "error",  # no model-loading chatter or progress bars in runs
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TQDM_DISABLE": "1",
    }
    os.environ.update(env)
    return env


POOL_LIMITS_ENV = "MOVREC_POOL_LIMITS"


def pool_limits() -> dict[str, int]:
    """The project's pool limits, with ``MOVREC_POOL_LIMITS=pool=n,...`` on top (e.g. more scoring slots for
    Dask workers: ``movrec_db_heavy=4``)."""
    limits = dict(POOL_LIMITS)
    for item in filter(None, (p.strip() for p in RunSettings.from_env().pool_limits.split(","))):
        pool, _, value = item.partition("=")
        if pool.strip() not in POOL_LIMITS or not value.strip().isdigit() or int(value) < 1:
            raise MovrecError(f"{POOL_LIMITS_ENV}: {item!r} is not <pool>=<slots ≥ 1> with a pool of "
                              f"{', '.join(POOL_LIMITS)}")
        limits[pool.strip()] = int(value)
    return limits


def apply_pool_limits() -> None:
    """Pool limits live in the instance; set ours (idempotent)."""
    import dagster as dg

    limits = pool_limits()
    with dg.DagsterInstance.get() as instance:
        for pool, limit in limits.items():
            instance.event_log_storage.set_concurrency_slots(pool, limit)
