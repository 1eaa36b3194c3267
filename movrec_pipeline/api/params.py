"""Request parameters shared by the routes, bounded as the settings say (the schema states every bound, so a
request the schema allows is never refused for its shape)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query

from movrec_pipeline.core.settings import ApiSettings
from movrec_pipeline.query import MAX_K

INT32 = 2**31 - 1
TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"  # a character that is not white space, and no NUL (PostgreSQL refuses it)
CustomerId = Annotated[int, Path(ge=1, le=INT32, description="dvdrental customer id", examples=[42])]
UserId = Annotated[int, Path(ge=1, le=INT32, description="MovieLens user id", examples=[7])]
MovieId = Annotated[int, Path(ge=1, le=INT32, description="MovieLens movie id", examples=[1])]
ShowId = Annotated[str, Path(pattern=r"^s[0-9]{1,9}$", description="Netflix show id", examples=["s1"])]
Diversity = Annotated[float, Query(ge=0.0, le=1.0, description="0 = pure relevance … 1 = most diverse (MMR)")]
Live = Annotated[bool, Query(description="compute from the current vectors instead of the stored list")]
IfNoneMatch = Annotated[str | None, Header(description="an ETag of an earlier answer: 304 while it still holds")]


class Paging:
    """``limit`` and ``offset`` for one settings: ``limit`` ≤ max_limit, ``offset + limit`` ≤ 1000."""

    def __init__(self, settings: ApiSettings) -> None:
        self.max_limit = settings.max_limit
        self.max_offset = MAX_K - settings.max_limit
        self.Limit = Annotated[int, Query(ge=1, le=self.max_limit, description="results per page")]
        self.Offset = Annotated[int, Query(ge=0, le=self.max_offset, description="results to skip (paging)")]
