"""Recommendation tables: customer profiles and Netflix picks, MovieLens picks and similar movies."""

from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pandas as pd

from movrec_pipeline import customer_recs, fingerprints, vectors
from movrec_pipeline.assets.common import (
    DB_POOL,
    DB_RETRY,
    DOWNSTREAM,
    OWNERS,
    column_schema,
    read_frame,
    skip_unchanged,
)
from movrec_pipeline.assets.embeddings import active_model
from movrec_pipeline.db import sqlfiles
from movrec_pipeline.loaders.tables import markdown_table, replace_rows
from movrec_pipeline.ranking.diversity import mmr_rerank
from movrec_pipeline.ranking.topk import cosine_topk
from movrec_pipeline.resources import EmbeddingResource, PostgresResource, RecommenderSettings

GROUP = "recommendations"
ASSET_KW = dict(group_name=GROUP, owners=OWNERS, retry_policy=DB_RETRY, pool=DB_POOL, automation_condition=DOWNSTREAM)


@dg.asset(
    deps=["film_embeddings", "dvdrental"], kinds={"pgvector", "postgres", "numpy"}, code_version="1", **ASSET_KW,
    description="Per customer, the mean of the vectors of the films they rented (seed 000), optionally "
    "recency-weighted, in `movrec.customer_profiles`; customers without a usable profile are counted with "
    "the reason in `movrec.profile_gaps`.",
    metadata={"dagster/column_schema": column_schema([
        ("customer_id", "integer"), ("model_id", "integer"), ("n_films", "integer"), ("profile", "vector"),
        ("updated_at", "timestamptz")])},
)
def customer_profiles(context: dg.AssetExecutionContext, postgres: PostgresResource,
                      embedding: EmbeddingResource, tuning: RecommenderSettings) -> dg.MaterializeResult:
    model_id, dims = active_model(postgres, embedding)
    with postgres.connect() as conn:
        fp = fingerprints.combine(fingerprints.rentals(conn), fingerprints.vectors(conn, "film", model_id),
                                  tuning.recency_half_life_days)
        if fingerprints.is_current(conn, context.asset_key.to_user_string(), fp):
            return skip_unchanged(context, postgres, "SELECT count(*) FROM movrec.customer_profiles")
    customers = read_frame(postgres, "SELECT customer_id FROM dvdrental.customer ORDER BY customer_id")
    rentals = read_frame(postgres, sqlfiles.load("customer_rentals"))
    with postgres.connect() as conn:
        film_keys, film_vectors = vectors.fetch_vectors(conn, "film", model_id, dims)
    profiles = customer_recs.mean_profiles(customers["customer_id"].to_numpy(), rentals, film_keys, film_vectors,
                                           tuning.recency_half_life_days)
    now = datetime.now(UTC)
    frame = pd.DataFrame({"customer_id": profiles.customer_ids, "model_id": model_id,
                          "n_films": profiles.n_films, "profile": list(profiles.vectors), "updated_at": now})
    gaps = pd.DataFrame({"customer_id": list(profiles.gaps), "reason": list(profiles.gaps.values()),
                         "updated_at": now})
    with postgres.connect() as conn, conn.transaction():
        replace_rows(conn, "movrec", "customer_profiles", frame)
        replace_rows(conn, "movrec", "profile_gaps", gaps)
        fingerprints.record(conn, context.asset_key.to_user_string(), fp)
    reasons = gaps["reason"].value_counts().to_dict() if len(gaps) else {}
    context.log.info("profiles: %d, gaps: %s", len(frame), reasons)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame), "rebuilt": True, "customers": len(customers),
        "without_profile": len(gaps),
        **{f"gap: {r}": n for r, n in reasons.items()},
        "mean_films_per_profile": float(np.mean(profiles.n_films)) if len(frame) else 0.0,
        "recency_half_life_days": tuning.recency_half_life_days, "model_id": model_id,
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
                                     tuning: RecommenderSettings) -> dg.MaterializeResult:
    model_id, dims = active_model(postgres, embedding)
    with postgres.connect() as conn:
        fp = fingerprints.combine(fingerprints.vectors(conn, "netflix", model_id),
                                  fingerprints.vectors(conn, "film", model_id), fingerprints.rentals(conn),
                                  conn.execute("SELECT max(updated_at)::text FROM movrec.customer_profiles").fetchone(),
                                  tuning.k, tuning.diversity_lambda)
        if fingerprints.is_current(conn, context.asset_key.to_user_string(), fp):
            return skip_unchanged(context, postgres, "SELECT count(*) FROM movrec.customer_netflix_recommendations")
        show_keys, show_vectors = vectors.fetch_vectors(conn, "netflix", model_id, dims)
        film_keys, film_vectors = vectors.fetch_vectors(conn, "film", model_id, dims)
        profiles = conn.execute("SELECT customer_id, profile FROM movrec.customer_profiles WHERE model_id = %s "
                                "ORDER BY customer_id", (model_id,)).fetchall()
    rentals = read_frame(postgres, sqlfiles.load("customer_rentals"))
    titles = dict(read_frame(postgres, "SELECT film_id, title FROM dvdrental.film").itertuples(index=False))
    frame = recommend_shows(profiles, show_keys, show_vectors, film_keys, film_vectors, rentals, titles, tuning)
    frame["model_id"] = model_id
    frame["generated_at"] = datetime.now(UTC)
    with postgres.connect() as conn, conn.transaction():
        replace_rows(conn, "movrec", "customer_netflix_recommendations", frame)
        fingerprints.record(conn, context.asset_key.to_user_string(), fp)
    shows = read_frame(postgres, "SELECT show_id, title FROM netflix.shows")
    sample = frame[frame["customer_id"].isin(frame["customer_id"].unique()[:3])].merge(shows, on="show_id")
    sample["because"] = "because you rented " + sample["because_title"].fillna("?")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame), "rebuilt": True, "customers": int(frame["customer_id"].nunique()),
        "k": tuning.k, "diversity_lambda": tuning.diversity_lambda,
        "distinct_shows": int(frame["show_id"].nunique()),
        "mean_score": float(frame["score"].mean()) if len(frame) else 0.0,
        "preview": dg.MetadataValue.md(markdown_table(
            sample[["customer_id", "rank", "title", "score", "because"]], max_rows=15)),
    })


def recommend_shows(profiles, show_keys, show_vectors, film_keys, film_vectors, rentals: pd.DataFrame,
                    titles: dict, tuning: RecommenderSettings) -> pd.DataFrame:
    """Top-k shows per profile (MMR when diversity_lambda < 1) with the best-explaining rented film."""
    columns = ["customer_id", "rank", "show_id", "score", "distance", "because_film_id", "because_title",
               "because_similarity"]
    if not profiles or len(show_keys) == 0:
        return pd.DataFrame(columns=columns)
    cids = [int(c) for c, _ in profiles]
    matrix = np.vstack([p.to_numpy() for _, p in profiles]).astype(np.float32)
    pool = tuning.k if tuning.diversity_lambda >= 1.0 else min(len(show_keys), tuning.k * 5)
    idx, scores = cosine_topk(matrix, show_vectors, pool)
    film_pos = {int(k): i for i, k in enumerate(film_keys)}
    rented = rentals.groupby("customer_id")["film_id"].apply(lambda s: sorted(set(map(int, s)))).to_dict()
    rows = []
    for u, cid in enumerate(cids):
        pick, pick_scores = idx[u], scores[u]
        if tuning.diversity_lambda < 1.0:
            order = mmr_rerank(pick, pick_scores, show_vectors, tuning.k, tuning.diversity_lambda)
            pick, pick_scores = order, pick_scores[[list(idx[u]).index(i) for i in order]]
        pick, pick_scores = pick[: tuning.k], pick_scores[: tuning.k]
        films = [f for f in rented.get(cid, []) if f in film_pos]
        best, sims = customer_recs.best_explanations(film_vectors[[film_pos[f] for f in films]],
                                                     show_vectors[pick])
        for rank, (item, score, b, sim) in enumerate(zip(pick, pick_scores, best, sims, strict=True), 1):
            film = films[b] if b >= 0 else None
            rows.append((cid, rank, show_keys[item], float(score), float(1 - score), film,
                         titles.get(film), float(sim) if film else None))
    return pd.DataFrame(rows, columns=columns)
