"""Where steps execute: in the run's process (default), or on a Dask cluster's workers.

``MOVREC_DASK_SCHEDULER=tcp://host:8786`` makes the Dask step executor (defs/dask_steps.py) the code location's
executor: every run except ``daily_refresh`` (which keeps its in-process executor: one model load, no per-step
start-up) sends each step to a worker of that scheduler. Workers need the project installed and the same
environment (``MOVREC_*``, ``DATABASE_URL``, ``MOVREC_DAGSTER_PG_URL``, provider key): see docs/scaling.md.
"""

import os

import dagster as dg

from movrec_pipeline.defs.dask_steps import dask_step_executor

DASK_SCHEDULER_ENV = "MOVREC_DASK_SCHEDULER"


@dg.definitions
def executor() -> dg.Definitions:
    address = os.environ.get(DASK_SCHEDULER_ENV, "").strip()
    if not address:
        return dg.Definitions()
    return dg.Definitions(executor=dask_step_executor.configured({"scheduler": address}))
