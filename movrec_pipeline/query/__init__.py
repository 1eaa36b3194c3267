"""Read what the pipeline materialized: recommendations, similar items, search, browse, explain, status.

Every function opens a read-only transaction (on ``conn`` if given, else on a new connection), returns
plain dataclasses (``dataclasses.asdict`` for JSON) and raises :class:`QueryError` subclasses with a
one-line message for bad input or an unmaterialized database::

    from movrec_pipeline.query import connect, recommend_for_customer
    with connect() as conn:
        listing = recommend_for_customer(42, k=5, live=True, conn=conn)
"""

from movrec_pipeline.query.errors import (
    DatabaseError,
    NotFoundError,
    NotMaterializedError,
    QueryError,
    UnavailableError,
)
from movrec_pipeline.query.examples import STRATEGIES, recommend_from_movies
from movrec_pipeline.query.explain import explain_recommendation
from movrec_pipeline.query.filters import MovieFilter, movie_filter
from movrec_pipeline.query.recommend import recommend_for_customer, recommend_for_user
from movrec_pipeline.query.results import (
    Driver,
    Explanation,
    Item,
    Listing,
    SourceStatus,
    Status,
    TableStatus,
)
from movrec_pipeline.query.search import browse_movies, search_movies, semantic_search
from movrec_pipeline.query.session import MAX_K, connect
from movrec_pipeline.query.similar import similar_movies, similar_shows
from movrec_pipeline.query.status import status
from movrec_pipeline.query.versions import data_versions

__all__ = [
    "MAX_K",
    "STRATEGIES",
    "DatabaseError",
    "Driver",
    "Explanation",
    "Item",
    "Listing",
    "MovieFilter",
    "NotFoundError",
    "NotMaterializedError",
    "QueryError",
    "SourceStatus",
    "Status",
    "TableStatus",
    "UnavailableError",
    "browse_movies",
    "connect",
    "data_versions",
    "explain_recommendation",
    "movie_filter",
    "recommend_for_customer",
    "recommend_for_user",
    "recommend_from_movies",
    "search_movies",
    "semantic_search",
    "similar_movies",
    "similar_shows",
    "status",
]
