"""dvdrental customers: their taste profiles (from rented films' vectors) and their Netflix picks."""

from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pandas as pd

from movrec_pipeline.defs import versions
from movrec_pipeline.defs.metadata import column_schema, preview
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource, RecommenderResource
from movrec_pipeline.ranking.profiles import mean_profiles
from movrec_pipeline.ranking.show_picks import recommend_shows
from movrec_pipeline.warehouse import fingerprints, sqlfiles, vectors
from movrec_pipeline.warehouse.tables import replace_rows

GROUP = "recommendations"
ASSET_KW = dict(group_name=GROUP, owners=OWNERS, retry_policy=DB_RETRY, pool=DB_POOL, automation_condition=DOWNSTREAM)


@dg.asset(
    deps=["film_embeddings", "film_vector_index", "dvdrental"], kinds={"pgvector", "postgres", "numpy"},
    code_version="1", **ASSET_KW,
    description="Per customer, the mean of the vectors of the films they rented , optionally "
    "recency-weighted, in `movrec.customer_profiles`; customers without a usable profile are counted with "
    "the reason in `movrec.profile_gaps`.",
    metadata={"dagster/column_schema": column_schema([
        ("customer_id", "integer"), ("model_id", "integer"), ("n_films", "integer"), ("profile", "vector"),
        ("updated_at", "timestamptz")])},
)
def customer_profiles(context: dg.AssetExecutionContext, postgres: PostgresResource,
                      embedding: EmbeddingResource, recommender: RecommenderResource) -> dg.MaterializeResult:
    model_id, dims = embedding.active_model(postgres)
    version = versions.inputs_version(context, postgres, model_id, recommender.recency_half_life_days)
    if versions.unchanged(context, version):
        return versions.kept(context, version, postgres.count_rows("movrec.customer_profiles"))
    customers = postgres.read_frame(sqlfiles.load("recommendations/customer_ids"))
    rentals = postgres.read_frame(sqlfiles.load("recommendations/customer_rentals"))
    with postgres.connect() as conn:
        film_keys, film_vectors = vectors.fetch_vectors(conn, "film", model_id, dims)
    profiles = mean_profiles(customers["customer_id"].to_numpy(), rentals, film_keys, film_vectors,
                             recommender.recency_half_life_days)
    now = datetime.now(UTC)
    frame = pd.DataFrame({"customer_id": profiles.customer_ids, "model_id": model_id,
                          "n_films": profiles.n_films, "profile": list(profiles.vectors), "updated_at": now})
    gaps = pd.DataFrame({"customer_id": list(profiles.gaps), "reason": list(profiles.gaps.values()),
                         "updated_at": now})
    with postgres.connect() as conn, conn.transaction():
        replace_rows(conn, "movrec", "customer_profiles", frame)
        replace_rows(conn, "movrec", "profile_gaps", gaps)
        fingerprints.record(conn, context.asset_key.to_user_string(), version)
    reasons = gaps["reason"].value_counts().to_dict() if len(gaps) else {}
    context.log.info("profiles: %d, gaps: %s", len(frame), reasons)
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "dagster/row_count": len(frame), "rebuilt": True, "customers": len(customers),
        "without_profile": len(gaps),
        **{f"gap: {r}": n for r, n in reasons.items()},
        "mean_films_per_profile": float(np.mean(profiles.n_films)) if len(frame) else 0.0,
        "recency_half_life_days": recommender.recency_half_life_days, "model_id": model_id,
    })


@dg.asset(
    deps=[customer_profiles, "netflix_embeddings", "netflix_vector_index"], kinds={"pgvector", "postgres", "numpy"},
    code_version="1", **ASSET_KW,
    description="Top-k Netflix shows for every customer with a profile (exact cosine top-k in memory), with "
    "the rented film that best explains each pick; optional MMR diversity.",
    metadata={"dagster/column_schema": column_schema([
        ("customer_id", "integer"), ("rank", "smallint"), ("show_id", "text"), ("score", "real"),
        ("distance", "real"), ("because_film_id", "integer"), ("because_title", "text"),
        ("because_similarity", "real"), ("model_id", "integer"), ("generated_at", "timestamptz")])},
)
def customer_netflix_recommendations(context: dg.AssetExecutionContext, postgres: PostgresResource,
                                     embedding: EmbeddingResource,
                                     recommender: RecommenderResource) -> dg.MaterializeResult:
    model_id, dims = embedding.active_model(postgres)
    version = versions.inputs_version(context, postgres, model_id, recommender.k, recommender.diversity_lambda)
    if versions.unchanged(context, version):
        return versions.kept(context, version, postgres.count_rows("movrec.customer_netflix_recommendations"))
    with postgres.connect() as conn:
        show_keys, show_vectors = vectors.fetch_vectors(conn, "netflix", model_id, dims)
        film_keys, film_vectors = vectors.fetch_vectors(conn, "film", model_id, dims)
        profiles = conn.execute(sqlfiles.load("recommendations/customer_profiles"), {"model_id": model_id}).fetchall()
    rentals = postgres.read_frame(sqlfiles.load("recommendations/customer_rentals"))
    titles = dict(postgres.read_frame(sqlfiles.load("recommendations/film_titles")).itertuples(index=False))
    frame = recommend_shows(profiles, show_keys, show_vectors, film_keys, film_vectors, rentals, titles, recommender.k,
                            recommender.diversity_lambda)
    frame["model_id"] = model_id
    frame["generated_at"] = datetime.now(UTC)
    with postgres.connect() as conn, conn.transaction():
        replace_rows(conn, "movrec", "customer_netflix_recommendations", frame)
        fingerprints.record(conn, context.asset_key.to_user_string(), version)
    shows = postgres.read_frame(sqlfiles.load("recommendations/show_titles"))
    sample = frame[frame["customer_id"].isin(frame["customer_id"].unique()[:3])].merge(shows, on="show_id")
    sample["because"] = "because you rented " + sample["because_title"].fillna("?")
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "dagster/row_count": len(frame), "rebuilt": True, "customers": int(frame["customer_id"].nunique()),
        "k": recommender.k, "diversity_lambda": recommender.diversity_lambda,
        "distinct_shows": int(frame["show_id"].nunique()),
        "mean_score": float(frame["score"].mean()) if len(frame) else 0.0,
        "preview": preview(sample[["customer_id", "rank", "title", "score", "because"]], max_rows=15),
    })
