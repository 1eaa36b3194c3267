"""The daily refresh (one run over every bucket) and the automation that follows manual backfills."""

import dagster as dg

from movrec_pipeline.core.settings import RunSettings
from movrec_pipeline.defs.partitions import FULL_RANGE_TAGS

RUN = RunSettings.from_env()

daily_refresh_job = dg.define_asset_job(
    "daily_refresh", selection=dg.AssetSelection.all(),
    # in-process: one worker process for the whole refresh — the model loads once and a no-change day
    # pays no per-step process start-up (29 steps × ~2-3 s on 2 cores with the multiprocess executor)
    executor_def=dg.in_process_executor,
    description="Sources → embeddings (every bucket, one run) → indexes → checks → recommendations → "
    "evaluation. Blocking checks stop everything downstream of a failure.",
)


@dg.schedule(
    job=daily_refresh_job,
    cron_schedule=RUN.daily_cron,
    execution_timezone=RUN.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily refresh: one run over all 32 embedding buckets and everything downstream.",
)
def daily_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"daily-{day}", tags={**FULL_RANGE_TAGS, "movrec/trigger": "daily"})


automation_sensor = dg.AutomationConditionSensorDefinition(
    "movrec_automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Evaluates the assets' automation conditions (refresh downstream after manual backfills).",
)
