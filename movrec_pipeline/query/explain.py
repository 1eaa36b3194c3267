"""Why a show suits a customer: the rented films closest to it, with cosine similarities."""

from __future__ import annotations

import numpy as np
import psycopg

from movrec_pipeline.query import catalog
from movrec_pipeline.query.errors import QueryError
from movrec_pipeline.query.models import active_text_model, require_vectors
from movrec_pipeline.query.recommend import customer_profile
from movrec_pipeline.query.results import Driver, Explanation
from movrec_pipeline.query.session import DVDRENTAL, SHOWS, session, table_exists
from movrec_pipeline.query.vectors import unit, vectors_for
from movrec_pipeline.warehouse import sqlfiles


def explain_recommendation(customer_id: int, show: str, *, top: int = 5,
                           conn: psycopg.Connection | None = None) -> Explanation:
    """The customer's rented films ranked by cosine to ``show`` (id or title), the profile's cosine,
    and the show's rank in the stored recommendations (None when it is not among them)."""
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 100:
        raise QueryError(f"top must be a whole number from 1 to 100, got {top!r}")
    with session(conn, DVDRENTAL, SHOWS) as c:
        name, rentals = catalog.customer(c, customer_id)
        catalog.require_rentals(customer_id, name, rentals)
        ref = catalog.resolve_show(c, show)
        model = active_text_model(c)
        require_vectors(c, "film", model)
        vector = vectors_for(c, "netflix", model.model_id, [ref.id]).get(ref.id)
        if vector is None:
            raise QueryError(f"show {ref.id} ({ref.label}) has no vector for {model.label}: materialize "
                             "netflix_embeddings (MOVREC_ITEM_LIMIT leaves items out)")
        profile, films, film_vectors = customer_profile(c, customer_id, model)
        rank = None
        if table_exists(c, "movrec.customer_netflix_recommendations"):
            row = c.execute(sqlfiles.load("query/customer_rank"),
                            {"customer_id": customer_id, "show_id": ref.id}).fetchone()
            rank = int(row[0]) if row else None
    target = unit(vector)
    sims = film_vectors @ target
    order = sorted(range(len(films)), key=lambda i: (-float(sims[i]), -films[i][2], films[i][0]))[:top]
    drivers = [Driver(film_id=films[i][0], title=films[i][1], similarity=round(float(sims[i]), 4),
                      rentals=films[i][2]) for i in order]
    return Explanation(customer_id=customer_id, customer=name, show=catalog.item(rank or 0, ref),
                       profile_similarity=round(float(np.dot(profile, target)), 4), table_rank=rank,
                       rentals=rentals, films_with_vectors=len(films), drivers=drivers, model=model.label)
