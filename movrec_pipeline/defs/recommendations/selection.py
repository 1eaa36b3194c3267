"""The served MovieLens model, chosen on the loaded data's own validation split before anything is published."""

import dagster as dg

from movrec_pipeline.defs import versions
from movrec_pipeline.defs.metadata import markdown_table
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource, RecommenderResource
from movrec_pipeline.ranking import selection, user_lists
from movrec_pipeline.warehouse import fingerprints, movielens, selections, vectors

MODEL_SELECTION = "movielens_model_selection"


@dg.asset(
    name=MODEL_SELECTION, deps=["movielens_ratings", "movielens_movie_embeddings", "movielens_vector_index"],
    group_name="recommendations", kinds={"numpy", "scipy", "postgres"}, automation_condition=DOWNSTREAM,
    owners=OWNERS, retry_policy=DB_RETRY, pool=DB_POOL, code_version="2",
    description="Chooses what the MovieLens lists serve on the loaded ratings' own validation split (a user sample; "
    "the test ratings never read): baselines tuned on small grids, the hybrid setting by setting from the last "
    "choice (its grid holds plain EASE), its popularity prior for short histories tuned on simulated new users, "
    "its warm/cold merge calibrated (docs/evaluation.md). In `movrec.model_selection`; kept while inputs are the same.",
)
def movielens_model_selection(context: dg.AssetExecutionContext, postgres: PostgresResource,
                              embedding: EmbeddingResource, recommender: RecommenderResource) -> dg.MaterializeResult:
    model_id, dims = embedding.active_model(postgres)
    version = versions.inputs_version(context, postgres, model_id, recommender.ease_lambda, *selection.SEARCH)
    with postgres.connect() as conn:
        previous = selections.latest(conn)
        if versions.unchanged(context, version) and previous is not None:
            return versions.kept(context, version, None, served=previous.served)
        keys, matrix = vectors.fetch_vectors(conn, "movielens", model_id, dims)
        item_ids, _ = movielens.catalogue(conn)
        ratings, _ = movielens.sampled_ratings(conn, selection.MAX_USERS)
    text = user_lists.usable_text_vectors(user_lists.align_vectors(item_ids, keys, matrix, dims))
    chosen = selection.select(ratings, item_ids, text, previous, log=context.log.info)
    if recommender.ease_lambda:
        chosen.settings["lambda_"] = recommender.ease_lambda
        chosen.note = (chosen.note + "; " if chosen.note else "") + "lambda_ set by MOVREC_RECOMMEND_EASE_LAMBDA"
    with postgres.connect() as conn, conn.transaction():
        selections.save(conn, chosen)
        fingerprints.record(conn, context.asset_key.to_user_string(), version)
    table, new_users = (markdown_table(t.round(4), 20, 120) for t in (chosen.validation_table(), chosen.prior_table()))
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "rebuilt": True, **chosen.figures(), "settings": dg.MetadataValue.json(chosen.settings),
        "baselines": dg.MetadataValue.json(chosen.baselines), "validation": dg.MetadataValue.md(table),
        "new users (popularity prior)": dg.MetadataValue.md(new_users)})
