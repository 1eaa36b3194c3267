"""The offline evaluation of the served MovieLens method against every tuned baseline, before its lists publish."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from movrec_pipeline.defs import versions
from movrec_pipeline.defs.metadata import column_schema, markdown_table
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource
from movrec_pipeline.ranking import baselines, quality, selection, user_lists
from movrec_pipeline.warehouse import fingerprints, movielens, selections, sqlfiles, vectors
from movrec_pipeline.warehouse.tables import copy_frame

SERVED = selection.SERVED
MAX_EVALUATED_USERS = 20_000  # above this, a fixed sample: the users whose id is a multiple of ceil(users / 20,000)
SAMPLED_HEAD_ITEMS = 8_000  # EASE head of the evaluation's models when users are sampled (a bounded cost)


@dg.asset(
    deps=["movielens_model_selection", "movielens_ratings", "movielens_movie_embeddings", "movielens_vector_index"],
    group_name="evaluation", kinds={"numpy", "scipy"}, automation_condition=DOWNSTREAM, owners=OWNERS,
    retry_policy=DB_RETRY, pool=DB_POOL, code_version="3",
    description="The served method (as `movielens_model_selection` chose it) beside every tuned baseline on T80, "
    "KFOLD (every user held out once), NEW1/3/5/10 (new users) and LIO (new titles): NDCG@10 with a bootstrap "
    "interval, Recall@20, HR@10, coverage, cold Recall@20 / NDCG@20, paired Wilcoxon tests (docs/evaluation.md). "
    f"Above {MAX_EVALUATED_USERS:,} users a fixed user sample and a {SAMPLED_HEAD_ITEMS:,}-movie EASE head. Its "
    "blocking checks stop the item model: a method behind a baseline is not published.",
    metadata={"dagster/column_schema": column_schema([
        ("evaluated_at", "timestamptz"), ("protocol", "text"), ("method", "text"), ("ndcg_at_10", "real"),
        ("ndcg_low", "real"), ("ndcg_high", "real"), ("recall_at_20", "real"), ("hr_at_10", "real"),
        ("coverage_at_10", "real"), ("cold_recall_at_20", "real"), ("cold_ndcg_at_20", "real"),
        ("users", "integer"), ("seconds", "real"), ("p_vs_best", "double precision")])},
)
def recommendation_quality(context: dg.AssetExecutionContext, postgres: PostgresResource,
                           embedding: EmbeddingResource) -> dg.MaterializeResult:
    model_id, dims = embedding.active_model(postgres)
    version = versions.inputs_version(context, postgres, model_id, quality.PROTOCOLS, quality.FOLDS,
                                      MAX_EVALUATED_USERS, SAMPLED_HEAD_ITEMS)
    if versions.unchanged(context, version):
        last = postgres.read_frame(sqlfiles.load("evaluation/latest_quality"), {"method": SERVED, "protocol": "T80"})
        figures = {"ndcg_at_10": float(last["ndcg_at_10"][0])} if len(last) else {}
        return versions.kept(context, version, None, **figures)
    with postgres.connect() as conn:
        chosen = selections.latest(conn) or selection.default_selection()
        keys, matrix = vectors.fetch_vectors(conn, "movielens", model_id, dims)
        item_ids, _ = movielens.catalogue(conn)
        ratings, stride = movielens.sampled_ratings(conn, MAX_EVALUATED_USERS)
    text = user_lists.usable_text_vectors(user_lists.align_vectors(item_ids, keys, matrix, dims))
    head = baselines.HEAD_ITEMS if stride == 1 else SAMPLED_HEAD_ITEMS
    results = quality.evaluate_protocols(ratings, item_ids, text, chosen, head, log=context.log.info)
    now = datetime.now(UTC)  # one time for the whole evaluation (what the checks read back)
    table = pd.DataFrame([row for r in results for row in quality.table_rows(now, r)])
    with postgres.connect() as conn, conn.transaction():
        copy_frame(conn, "movrec", "recommendation_quality", table)
        fingerprints.record(conn, context.asset_key.to_user_string(), version)
    metadata: dict = {"rebuilt": True, "text_vectors_used": text is not None, "served_settings":
                      dg.MetadataValue.json(chosen.settings), "calibrated_merge": chosen.calibration is not None,
                      "user_sample": f"user_id % {stride} = 0" if stride > 1 else "all users", "ease_head": head}
    metadata.update({k: v for r in results for k, v in quality.figures(r).items()})
    shown = table.drop(columns=["evaluated_at"]).round(4)
    metadata["table"] = dg.MetadataValue.md(markdown_table(shown, max_rows=len(shown)))
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(version))
