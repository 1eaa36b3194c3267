"""Hash-bucket partitions of the embedding assets: stable for ever, far below the UI's partition ceiling."""

import os
import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)  # backfill_policy is beta in 1.13

N_BUCKETS = 32
BUCKET_KEYS = [f"b{i:02d}" for i in range(N_BUCKETS)]
BUCKETS = dg.StaticPartitionsDefinition(BUCKET_KEYS)
# One run per backfill by default: the local model loads once (~9 s) and is reused for all buckets. To spread a
# backfill over runs (and workers), MOVREC_BUCKETS_PER_RUN=k gives runs of k buckets (docs/scaling.md).
BUCKETS_PER_RUN = int(os.environ.get("MOVREC_BUCKETS_PER_RUN", "0") or 0)
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(BUCKETS_PER_RUN) if BUCKETS_PER_RUN else dg.BackfillPolicy.single_run()
# Run tags that make one run cover every bucket, as a single-run backfill of all partitions does.
FULL_RANGE_TAGS = {"dagster/asset_partition_range_start": BUCKET_KEYS[0],
                   "dagster/asset_partition_range_end": BUCKET_KEYS[-1]}


def bucket_index(partition_key: str) -> int:
    return int(partition_key.lstrip("b"))
