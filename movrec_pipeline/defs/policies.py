"""What every stage's assets share: owners, pools, retry policies and the downstream automation condition."""

import dagster as dg

OWNERS = ["team:movrec"]
DB_POOL = "movrec_db_heavy"  # DDL, restores, index builds and table swaps
EMBEDDING_API_POOL = "movrec_embedding_api"
POOL_LIMITS = {DB_POOL: 1, EMBEDDING_API_POOL: 2}

# Downstream of the embeddings: refresh after an upstream update (e.g. a manual backfill), but only when
# every blocking check of the parents passed — also when the parents ran in another run.
DOWNSTREAM = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager once upstream blocking checks passed")

DB_RETRY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
EMBED_RETRY = dg.RetryPolicy(max_retries=4, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
