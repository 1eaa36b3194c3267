"""The two partitionings of the graph: items by a hash of their key, users by their id, 32 buckets each.

``ITEM_BUCKETS`` split the embedding work (bucket = sha256 of the item key modulo 32, stable for ever);
``USER_BUCKETS`` split the scoring of MovieLens users (bucket = ``user_id % 32``). They are declared apart because
they split different things, and share their keys (``b00`` .. ``b31``) because Dagster runs a job only over assets
of one partitions definition (equal definitions count as one): so the daily job still covers both in one run.
"""

import warnings

import dagster as dg

from movrec_pipeline.core.settings import RunSettings

warnings.filterwarnings("ignore", category=dg.BetaWarning)  # backfill_policy is beta in 1.13

N_BUCKETS = 32
BUCKET_KEYS = [f"b{i:02d}" for i in range(N_BUCKETS)]
ITEM_BUCKETS = dg.StaticPartitionsDefinition(BUCKET_KEYS)  # sha256(item key) % 32
USER_BUCKETS = dg.StaticPartitionsDefinition(BUCKET_KEYS)  # user_id % 32
# One run per backfill by default: the local model loads once (~9 s) and is reused for all buckets. To spread a
# backfill over runs (and workers), MOVREC_BUCKETS_PER_RUN=k gives runs of k buckets (docs/scaling.md).
BUCKETS_PER_RUN = RunSettings.from_env().buckets_per_run
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(BUCKETS_PER_RUN) if BUCKETS_PER_RUN else dg.BackfillPolicy.single_run()


# Run tags that make one run cover every bucket, as a single-run backfill of all partitions does.
FULL_RANGE_TAGS = {"dagster/asset_partition_range_start": BUCKET_KEYS[0],
                   "dagster/asset_partition_range_end": BUCKET_KEYS[-1]}


def bucket_index(partition_key: str) -> int:
    """``b07`` -> 7."""
    return int(partition_key[1:])


def buckets_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[int]:
    """The bucket numbers a run or check covers."""
    return sorted(bucket_index(k) for k in context.partition_keys)
