"""Filters on MovieLens movies (genres, year, average rating) and the genre vocabulary they are checked against."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from movrec_pipeline.query.errors import NotFoundError, QueryError
from movrec_pipeline.query.session import database_key
from movrec_pipeline.query.versions import data_versions
from movrec_pipeline.warehouse import sqlfiles

_GENRES: dict[tuple[str, str], dict[str, str]] = {}


@dataclass(frozen=True)
class MovieFilter:
    """Movies having all ``genres``, released in ``year_min``..``year_max``, rated ``min_rating`` or more on average
    (None: no bound). Built with :func:`movie_filter`, which checks the values."""

    genres: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    min_rating: float | None = None

    @property
    def empty(self) -> bool:
        return not self.genres and self.year_min is None and self.year_max is None and self.min_rating is None

    def params(self) -> dict[str, object]:
        """Parameters of ``sql/query/knn_movies.sql``."""
        return {"genres": list(self.genres), "year_min": self.year_min, "year_max": self.year_max,
                "min_rating": self.min_rating}

    def describe(self) -> str:
        parts = [" & ".join(self.genres)] if self.genres else []
        if self.year_min is not None or self.year_max is not None:
            parts.append(f"years {self.year_min or '…'}–{self.year_max or '…'}")
        if self.min_rating is not None:
            parts.append(f"average >= {self.min_rating:g}")
        return ", ".join(parts)


def movie_filter(conn: psycopg.Connection, genres: Sequence[str] = (), year_min: int | None = None,
                 year_max: int | None = None, min_rating: float | None = None) -> MovieFilter:
    """A checked filter: genres by their canonical names (an unknown one is :class:`NotFoundError`); an empty year
    range matches nothing."""
    if min_rating is not None and not 0.5 <= float(min_rating) <= 5.0:
        raise QueryError(f"min rating must be between 0.5 and 5, got {min_rating}")
    return MovieFilter(tuple(canonical_genres(conn, genres)), year_min, year_max,
                       None if min_rating is None else float(min_rating))


def _vocabulary(conn: psycopg.Connection) -> dict[str, str]:
    """lower-case name -> genre name, cached per database and MovieLens movies version."""
    version = data_versions(conn, ["movielens_movies"]).get("movielens_movies")
    key = (database_key(conn), version or "")
    if version is None or key not in _GENRES:
        known = {g.lower(): g for (g,) in conn.execute(sqlfiles.load("query/genres")).fetchall()}
        if version is None:
            return known
        _GENRES.clear()
        _GENRES[key] = known
    return _GENRES[key]


def canonical_genres(conn: psycopg.Connection, genres: Sequence[str]) -> list[str]:
    """The genres' stored names (any case); an unknown one suggests close names."""
    if not genres:
        return []
    known = _vocabulary(conn)
    out = []
    for genre in genres:
        name = known.get(genre.strip().lower())
        if name is None:
            close = difflib.get_close_matches(genre.strip().lower(), list(known), n=2, cutoff=0.5)
            hint = f"did you mean {' or '.join(known[c] for c in close)}?" if close else \
                f"genres are {', '.join(sorted(known.values()))}"
            raise NotFoundError(f"unknown genre {genre!r}: {hint}")
        out.append(name)
    return list(dict.fromkeys(out))
