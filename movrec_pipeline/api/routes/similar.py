"""Similar items: MovieLens movies (stored lists, live kNN beyond them) and Netflix shows (live)."""

# no `from __future__ import annotations`: FastAPI reads these annotations when the routes are declared
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from movrec_pipeline import query
from movrec_pipeline.api.params import INT32, TEXT, IfNoneMatch, MovieId, Paging, ShowId
from movrec_pipeline.api.problems import declared
from movrec_pipeline.api.respond import answer
from movrec_pipeline.api.routes.recommendations import ETAG_HEADER, NOT_MODIFIED
from movrec_pipeline.core.settings import ApiSettings
from movrec_pipeline.query.results import Listing

SIMILAR_TABLES = ("movielens_similar_movies", "movielens_movies", "movielens_ratings",
                  "movielens_collaborative_vectors", "movielens_vector_index")
Source = Annotated[Literal["both", "collaborative", "text"], Query(
    description="collaborative (ratings) and/or text vectors; each gives `limit` movies")]
ExcludeSeenBy = Annotated[int | None, Query(ge=1, le=INT32, description="leave out the movies this MovieLens "
                                            "user rated")]
Title = Annotated[str, Query(min_length=1, max_length=300, pattern=TEXT, description="a title; 'The Matrix', "
                             "'Heat (1995)'")]


def router(settings: ApiSettings, auth: bool) -> APIRouter:
    paging = Paging(settings)
    r = APIRouter(prefix="/v1", tags=["similar"])
    stored = {200: {"headers": ETAG_HEADER}, **NOT_MODIFIED, **declared(404, auth=auth)}

    @r.get("/movies/{movie_id}/similar", response_model=Listing, operation_id="similar_movies",
           summary="Movies similar to a MovieLens movie", responses=stored)
    async def similar_movies(request: Request, movie_id: MovieId, limit: paging.Limit = 10,
                             offset: paging.Offset = 0, source: Source = "both", exclude_seen_by: ExcludeSeenBy = None,
                             if_none_match: IfNoneMatch = None) -> Response:
        """From `movrec.movielens_similar_movies`; beyond it (or after leaving out what a user rated) live from the
        same vectors. Same as `movrec similar --movie-id ID`."""
        return await answer(request, lambda conn: query.similar_movies(
            movie_id, limit, source=source, exclude_seen_by=exclude_seen_by, offset=offset, conn=conn),
            versioned=SIMILAR_TABLES)

    @r.get("/movies/similar", response_model=Listing, operation_id="similar_movies_by_title",
           summary="Movies similar to a MovieLens movie named by its title", responses=stored)
    async def similar_by_title(request: Request, title: Title, limit: paging.Limit = 10, offset: paging.Offset = 0,
                               source: Source = "both", exclude_seen_by: ExcludeSeenBy = None,
                               if_none_match: IfNoneMatch = None) -> Response:
        """The most-rated movie of that title (others are named in the notes); an unknown title is 404 with the
        closest titles. Same as `movrec similar --movie TITLE`."""
        return await answer(request, lambda conn: query.similar_movies(
            title, limit, source=source, exclude_seen_by=exclude_seen_by, offset=offset, conn=conn),
            versioned=SIMILAR_TABLES)

    @r.get("/shows/{show_id}/similar", response_model=Listing, operation_id="similar_shows",
           summary="Netflix shows similar to a show", responses=declared(404, auth=auth))
    async def similar_shows(request: Request, show_id: ShowId, limit: paging.Limit = 10,
                            offset: paging.Offset = 0) -> Response:
        """Live through the Netflix vector index. Same as `movrec similar --show ID`."""
        return await answer(request, lambda conn: query.similar_shows(show_id, limit, offset=offset, conn=conn))

    @r.get("/shows/similar", response_model=Listing, operation_id="similar_shows_by_title",
           summary="Netflix shows similar to a show named by its exact title", responses=declared(404, auth=auth))
    async def similar_shows_by_title(request: Request, title: Title, limit: paging.Limit = 10,
                                     offset: paging.Offset = 0) -> Response:
        """Same as `movrec similar --show TITLE`."""
        return await answer(request, lambda conn: query.similar_shows(title, limit, offset=offset, conn=conn))

    return r
