"""Where steps execute: in the run's process (default), or on a Dask cluster's workers.

``MOVREC_DASK_SCHEDULER=tcp://host:8786`` makes the Dask step executor (``movrec_pipeline/executors/``) the code
location's executor: every run except ``daily_refresh`` (which keeps its in-process executor: one model load, no
per-step start-up) sends each step to a worker of that scheduler. Workers need the project installed and the same
environment (``MOVREC_*``, ``DATABASE_URL``, ``MOVREC_DAGSTER_PG_URL``, provider key): see docs/scaling.md.
"""

import dagster as dg

from movrec_pipeline.core.settings import RunSettings
from movrec_pipeline.executors.dask_steps import dask_step_executor


@dg.definitions
def executor() -> dg.Definitions:
    address = RunSettings.from_env().dask_scheduler.strip()
    if not address:
        return dg.Definitions()
    return dg.Definitions(executor=dask_step_executor.configured({"scheduler": address}))
