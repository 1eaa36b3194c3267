"""Recommendations: a dvdrental customer's Netflix shows, a MovieLens user's movies (stored or live), and movies
from liked and disliked examples (``POST /v1/recommend``, shaped like the vector databases' recommend APIs)."""

# no `from __future__ import annotations`: FastAPI reads these annotations when the routes are declared
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.responses import Response

from movrec_pipeline import query
from movrec_pipeline.api.params import INT32, CustomerId, Diversity, IfNoneMatch, Live, Paging, UserId
from movrec_pipeline.api.problems import declared
from movrec_pipeline.api.respond import answer
from movrec_pipeline.core.settings import ApiSettings
from movrec_pipeline.query.results import Listing

CUSTOMER_TABLES = ("customer_netflix_recommendations", "dvdrental", "netflix_titles")
USER_TABLES = ("movielens_user_recommendations/*", "movielens_movies", "movielens_ratings")  # a record per bucket
ETAG_HEADER = {"ETag": {"description": "strong validator of a stored list (absent on live answers)",
                        "schema": {"type": "string"}}}
NOT_MODIFIED = {304: {"description": "not modified: If-None-Match still names the stored list"}}

# The request body is read strictly: its schema says boolean, integer, number, and pydantic's lax mode would also take
# 0 for false, "10" for 10 or "0.5" for 0.5, which the schema refuses.
STRICT = ConfigDict(extra="forbid", strict=True)


def _integral(value: object) -> object:
    """5.0 is an integer to JSON Schema, so it is read as 5 (strict mode alone would refuse it)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Integral = BeforeValidator(_integral)  # after the bounds in Annotated[int, ...], so the schema keeps them
ExampleId = Annotated[int, Field(ge=1, le=INT32), Integral]
Year = Annotated[int, Field(ge=1800, le=2200), Integral]


class YearRange(BaseModel):
    """Release years, both ends included."""

    model_config = STRICT
    gte: Year | None = None
    lte: Year | None = None


class RatingRange(BaseModel):
    """Average MovieLens rating."""

    model_config = STRICT
    gte: float = Field(ge=0.5, le=5.0)


class MovieFilterBody(BaseModel):
    """Keep only movies with all these genres, released in these years, rated this well on average."""

    model_config = STRICT
    genres: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(default_factory=list, max_length=10)
    year: YearRange | None = None
    rating: RatingRange | None = None


def router(settings: ApiSettings, auth: bool) -> APIRouter:
    paging = Paging(settings)
    r = APIRouter(prefix="/v1", tags=["recommendations"])

    @r.get("/customers/{customer_id}/recommendations", response_model=Listing, operation_id="customer_recommendations",
           summary="Netflix shows for a dvdrental customer",
           responses={200: {"headers": ETAG_HEADER}, **NOT_MODIFIED, **declared(404, auth=auth)})
    async def customer_recommendations(request: Request, customer_id: CustomerId, limit: paging.Limit = 10,
                                       offset: paging.Offset = 0, diversity: Diversity = 0.0, live: Live = False,
                                       if_none_match: IfNoneMatch = None) -> Response:
        """The stored picks (`movrec.customer_netflix_recommendations`), or with `live=true` the nearest shows to
        the mean vector of the customer's rented films, through the Netflix vector index. Same as
        `movrec recommend --customer ID`."""
        tables = () if live else CUSTOMER_TABLES + (("netflix_vector_index",) if diversity else ())
        return await answer(request, lambda conn: query.recommend_for_customer(
            customer_id, limit, diversity=diversity, live=live, offset=offset, conn=conn), versioned=tables)

    @r.get("/users/{user_id}/recommendations", response_model=Listing, operation_id="user_recommendations",
           summary="Movies for a MovieLens user",
           responses={200: {"headers": ETAG_HEADER}, **NOT_MODIFIED, **declared(404, auth=auth)})
    async def user_recommendations(request: Request, user_id: UserId, limit: paging.Limit = 10,
                                   offset: paging.Offset = 0, diversity: Diversity = 0.0, live: Live = False,
                                   exclude_seen: Annotated[bool, Query(
                                       description="live: leave out the movies the user rated")] = True,
                                   if_none_match: IfNoneMatch = None) -> Response:
        """The stored picks of the served model (never a movie the user rated), or with `live=true` the nearest
        movies to the mean collaborative vector of the movies the user rated 4 or more. Same as
        `movrec recommend --ml-user ID`."""
        tables = () if live else USER_TABLES + (("movielens_collaborative_vectors",) if diversity else ())
        return await answer(request, lambda conn: query.recommend_for_user(
            user_id, limit, live=live, diversity=diversity, exclude_seen=exclude_seen, offset=offset, conn=conn),
            versioned=tables)

    class RecommendRequest(BaseModel):
        """Movies like the positive examples and unlike the negative ones (MovieLens ids)."""

        model_config = ConfigDict(**STRICT, json_schema_extra={"examples": [
            {"positive": [1, 260, 1196], "negative": [2], "strategy": "average_vector",
             "filter": {"genres": ["Action"], "year": {"gte": 1980}}, "limit": 5}]})
        positive: list[ExampleId] = Field(min_length=1, max_length=50, description="liked movie ids")
        negative: list[ExampleId] = Field(default_factory=list, max_length=50, description="disliked movie ids")
        strategy: Literal["average_vector", "best_score"] = Field(
            "average_vector", description="average_vector: one search for avg(pos) + (avg(pos) - avg(neg)); "
            "best_score: each candidate scored by its closest example (a closer negative scores -cos²)")
        using: Literal["collaborative", "text"] = Field(
            "collaborative", description="ratings-based SVD vectors, or the active text model's")
        filter: MovieFilterBody | None = None
        score_threshold: float | None = Field(None, ge=-1.0, le=1.0, description="leave out lower scores")
        limit: Annotated[int, Field(ge=1, le=paging.max_limit), Integral] = 10
        offset: Annotated[int, Field(ge=0, le=paging.max_offset), Integral] = 0
        exact: bool = Field(False, description="search exactly instead of through the vector index")

    @r.post("/recommend", response_model=Listing, operation_id="recommend_from_examples",
            summary="Movies from liked and disliked examples", responses=declared(404, 413, auth=auth))
    async def recommend(request: Request, body: RecommendRequest) -> Response:
        """Same as `movrec recommend --from-movies 1,260 --not 2`, with strategies, filters, a score threshold and
        paging. A page is never short while more movies pass the filter (a short filtered index scan is redone
        exactly)."""
        f = body.filter

        def call(conn):
            where = None
            if f is not None:
                where = query.movie_filter(conn, f.genres, f.year.gte if f.year else None,
                                           f.year.lte if f.year else None, f.rating.gte if f.rating else None)
            return query.recommend_from_movies(
                body.positive, body.negative, body.limit, using=body.using, strategy=body.strategy, where=where,
                score_threshold=body.score_threshold, offset=body.offset, exact=body.exact, conn=conn)

        return await answer(request, call)

    return r
