"""The replaced systems' paths, so their clients work unchanged: each answers a bare JSON list of items, as those
systems did, with the same items as its ``/v1`` counterpart.

- the MiniLM recommender (FastAPI): ``GET /movies/recommendations?user_id=&limit=&use_embeddings=`` (Bearer token);
  ``use_embeddings=true`` is the live answer from the vectors, false the stored picks;
- the Ollama engine (Flask): ``GET /api/recommendations/<movie_id>?limit=`` (movies similar by their text vectors,
  as that engine's were) and ``GET /api/search?q=&limit=``.
"""

# no `from __future__ import annotations`: FastAPI reads these annotations when the routes are declared
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from movrec_pipeline import query
from movrec_pipeline.api.params import INT32, TEXT, MovieId, Paging
from movrec_pipeline.api.problems import declared
from movrec_pipeline.api.respond import answer
from movrec_pipeline.api.routes.recommendations import ETAG_HEADER, NOT_MODIFIED, USER_TABLES
from movrec_pipeline.api.routes.search import MOVIE_TABLES
from movrec_pipeline.api.routes.similar import SIMILAR_TABLES
from movrec_pipeline.core.settings import ApiSettings
from movrec_pipeline.query.results import Item, Listing
from movrec_pipeline.query.search import MAX_TEXT


def items(listing: object) -> object:
    assert isinstance(listing, Listing)
    return listing.items


def router(settings: ApiSettings, auth: bool) -> APIRouter:
    paging = Paging(settings)
    r = APIRouter(tags=["aliases of the replaced systems"])
    stored = {200: {"headers": ETAG_HEADER}, **NOT_MODIFIED, **declared(404, auth=auth)}

    @r.get("/movies/recommendations", response_model=list[Item], operation_id="legacy_user_recommendations",
           summary="Alias: movies for a user (the MiniLM recommender's path)", responses=stored)
    async def movies_recommendations(request: Request,
                                     user_id: Annotated[int, Query(ge=1, le=INT32, description="MovieLens user id")],
                                     limit: paging.Limit = 10,
                                     use_embeddings: Annotated[bool, Query(
                                         description="true: live from the vectors; false: the stored picks")] = False
                                     ) -> Response:
        """`GET /v1/users/{user_id}/recommendations?limit=&live=` as a bare list of items."""
        return await answer(request, lambda conn: query.recommend_for_user(user_id, limit, live=use_embeddings,
                                                                           conn=conn),
                            versioned=() if use_embeddings else USER_TABLES, shape=items)

    @r.get("/api/recommendations/{movie_id}", response_model=list[Item], operation_id="legacy_similar_movies",
           summary="Alias: movies similar to a movie (the Ollama engine's path)", responses=stored)
    async def api_recommendations(request: Request, movie_id: MovieId, limit: paging.Limit = 10) -> Response:
        """`GET /v1/movies/{movie_id}/similar?source=text&limit=` as a bare list of items."""
        return await answer(request, lambda conn: query.similar_movies(movie_id, limit, source="text", conn=conn),
                            versioned=SIMILAR_TABLES, shape=items)

    @r.get("/api/search", response_model=list[Item], operation_id="legacy_search",
           summary="Alias: title search (the Ollama engine's path)", responses=stored)
    async def api_search(request: Request,
                         q: Annotated[str, Query(min_length=1, max_length=MAX_TEXT, pattern=TEXT)],
                         limit: paging.Limit = 10) -> Response:
        """`GET /v1/search?q=&limit=` as a bare list of items."""
        return await answer(request, lambda conn: query.search_movies(q, limit, conn=conn), versioned=MOVIE_TABLES,
                            shape=items)

    return r
