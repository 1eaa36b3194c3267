"""Finding movies: full-text title search, semantic search by description, browsing by genre and rating."""

# no `from __future__ import annotations`: FastAPI reads these annotations when the routes are declared
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from movrec_pipeline import query
from movrec_pipeline.api.params import INT32, TEXT, IfNoneMatch, Paging
from movrec_pipeline.api.problems import declared
from movrec_pipeline.api.respond import answer
from movrec_pipeline.api.routes.recommendations import ETAG_HEADER, NOT_MODIFIED
from movrec_pipeline.core.settings import ApiSettings
from movrec_pipeline.query.results import Listing
from movrec_pipeline.query.search import MAX_TEXT

MOVIE_TABLES = ("movielens_movies", "movielens_ratings")
Text = Annotated[str, Query(min_length=1, max_length=MAX_TEXT, pattern=TEXT,
                            description="web-search syntax: words, \"quoted phrases\", or, -not")]


def router(settings: ApiSettings, auth: bool) -> APIRouter:
    paging = Paging(settings)
    r = APIRouter(prefix="/v1", tags=["search"])
    stored = {200: {"headers": ETAG_HEADER}, **NOT_MODIFIED, **declared(404, auth=auth)}

    @r.get("/search", response_model=Listing, operation_id="search_movies", summary="Full-text search of movies",
           responses=stored)
    async def search(request: Request, q: Text, limit: paging.Limit = 10, offset: paging.Offset = 0,
                     user_id: Annotated[int | None, Query(ge=1, le=INT32, description="re-rank for this MovieLens "
                                                          "user")] = None,
                     personal_weight: Annotated[float, Query(ge=0.0, le=1.0, description="share of the user's "
                                                             "taste in the score")] = 0.5,
                     if_none_match: IfNoneMatch = None) -> Response:
        """MovieLens titles, genres and years by PostgreSQL full-text search (every word as a prefix when nothing
        matches), optionally re-ranked for a user. Same as `movrec search TEXT`."""
        tables = MOVIE_TABLES + (("movielens_collaborative_vectors",) if user_id is not None else ())
        return await answer(request, lambda conn: query.search_movies(
            q, limit, user_id=user_id, personal_weight=personal_weight, offset=offset, conn=conn), versioned=tables)

    @r.get("/semantic", response_model=Listing, operation_id="semantic_search",
           summary="Shows and movies nearest to a description", responses=declared(auth=auth))
    async def semantic(request: Request, q: Text, limit: paging.Limit = 10, offset: paging.Offset = 0,
                       kind: Annotated[Literal["both", "netflix", "movielens"], Query(
                           description="which catalogue; `limit` results from each")] = "both") -> Response:
        """The description embedded by the active provider, then the nearest items through the vector indexes.
        Same as `movrec semantic TEXT`."""
        kinds = ("netflix", "movielens") if kind == "both" else (kind,)
        return await answer(request, lambda conn: query.semantic_search(q, limit, kinds=kinds, offset=offset,
                                                                        conn=conn))

    @r.get("/browse", response_model=Listing, operation_id="browse_movies",
           summary="Movies by genre, rating and activity", responses=stored)
    async def browse(request: Request, genres: Annotated[list[str], Query(
                         max_length=10, description="all of these genres (any case); an unknown one is 404 with the "
                         "closest names")] = [],  # noqa: B006 - FastAPI copies defaults
                     min_rating: Annotated[float | None, Query(ge=0.5, le=5.0, description="average at least")] = None,
                     order: Annotated[Literal["popular", "top-rated", "trending"], Query(
                         description="most ratings; best average (with min_count ratings, default 20); most ratings "
                         "in the data's last 365 days")] = "popular",
                     min_count: Annotated[int | None, Query(ge=0, le=INT32, description="minimum number of "
                                                            "ratings")] = None,
                     limit: paging.Limit = 10, offset: paging.Offset = 0,
                     if_none_match: IfNoneMatch = None) -> Response:
        """From the `movrec.movie_stats` table (rebuilt with each MovieLens load). Same as `movrec browse`."""
        return await answer(request, lambda conn: query.browse_movies(
            genres=genres, min_rating=min_rating, order=order, min_count=min_count, k=limit, offset=offset,
            conn=conn), versioned=MOVIE_TABLES)

    return r
