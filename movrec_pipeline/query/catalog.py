"""Who and what a query is about: customers, MovieLens users, movies and shows, with friendly errors."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

from movrec_pipeline.query.errors import NotFoundError, QueryError
from movrec_pipeline.query.results import Item
from movrec_pipeline.warehouse import sqlfiles

_ARTICLES = ("the", "a", "an")
_YEAR = re.compile(r"(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*")
SHOW_ID = re.compile(r"s\d+")


@dataclass(frozen=True)
class Ref:
    """A resolved movie or show, plus other exact title matches when the title was ambiguous."""

    kind: str
    id: str
    title: str
    year: int | None
    genres: list[str]
    alternatives: tuple[str, ...] = ()
    detail: str = ""  # a show's type (Movie / TV Show)

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title


def _id_range(conn: psycopg.Connection, table: tuple[str, str], column: str) -> str:
    query = sql.SQL(sqlfiles.load("query/id_range")).format(column=sql.Identifier(column),
                                                            table=sql.Identifier(*table))
    low, high = conn.execute(query).fetchone()
    return f"{low}–{high}" if low is not None else "none loaded"


def customer(conn: psycopg.Connection, customer_id: int) -> tuple[str, int]:
    """(name, number of rentals) of a dvdrental customer; unknown ones raise :class:`NotFoundError`."""
    row = conn.execute(sqlfiles.load("query/customer"), {"customer_id": customer_id}).fetchone()
    if row is None:
        ids = _id_range(conn, ("dvdrental", "customer"), "customer_id")
        raise NotFoundError(f"unknown customer {customer_id} (customer ids are {ids})")
    return row[1], int(row[2])


def require_rentals(customer_id: int, name: str, rentals: int) -> None:
    if rentals == 0:
        raise QueryError(f"customer {customer_id} ({name}) has no rentals: there is nothing to recommend from")


def ml_user(conn: psycopg.Connection, user_id: int) -> tuple[int, float]:
    """(number of ratings, mean rating) of a MovieLens user; unknown ones raise :class:`NotFoundError`."""
    n, mean = conn.execute(sqlfiles.load("query/user"), {"user_id": user_id}).fetchone() or (0, None)
    if not n:
        ids = _id_range(conn, ("movielens", "ratings"), "user_id")
        raise NotFoundError(f"unknown MovieLens user {user_id} (user ids are {ids})")
    return int(n), float(mean)


def movies(conn: psycopg.Connection, ids: list[int]) -> dict[int, Ref]:
    rows = conn.execute(sqlfiles.load("query/movies"), {"ids": [int(i) for i in ids]}).fetchall()
    return {int(r[0]): Ref("movielens", str(r[0]), r[1], r[2], list(r[3] or [])) for r in rows}


def shows(conn: psycopg.Connection, ids: list[str]) -> dict[str, Ref]:
    rows = conn.execute(sqlfiles.load("query/shows"), {"ids": list(ids)}).fetchall()
    return {r[0]: Ref("netflix", r[0], r[1], r[3], list(r[4] or []), detail=r[2] or "") for r in rows}


def item(rank: int, ref: Ref, score: float | None = None, because: str | None = None,
         **extra: object) -> Item:
    if ref.detail:
        extra = {"type": ref.detail, **extra}
    return Item(rank=rank, kind=ref.kind, id=ref.id, title=ref.title, year=ref.year, genres=ref.genres,
                score=None if score is None else round(float(score), 4), because=because, extra=dict(extra))


def normalize_title(title: str) -> str:
    """Lower case, single spaces, a trailing article moved to the front: 'Matrix, The' -> 'the matrix'."""
    text = " ".join(title.lower().split())
    for article in _ARTICLES:
        if text.endswith(f", {article}"):
            return f"{article} {text[: -len(article) - 2]}"
    return text


def _stored_forms(title: str) -> list[str]:
    """Lower-cased ways the title may be stored in MovieLens ('The Matrix' is stored 'Matrix, The')."""
    text = normalize_title(title)
    forms = {text}
    for article in _ARTICLES:
        if text.startswith(f"{article} "):
            forms.add(f"{text[len(article) + 1:]}, {article}")
    return sorted(forms)


def _suggest(conn: psycopg.Connection, text: str, table: tuple[str, str], title_col: str, year_col: str) -> str:
    query = sql.SQL(sqlfiles.load("query/all_titles")).format(
        title=sql.Identifier(title_col), year=sql.Identifier(year_col), table=sql.Identifier(*table))
    labels: dict[str, list[str]] = {}
    for title, year in conn.execute(query).fetchall():
        labels.setdefault(normalize_title(title), []).append(f"{title} ({year})" if year else title)
    close = difflib.get_close_matches(normalize_title(text), list(labels), n=3, cutoff=0.6)
    names = [label for key in close for label in sorted(labels[key])][:3]
    return "did you mean " + ", ".join(f'"{n}"' for n in names) + "?" if names else "no close match (try movrec search)"


def resolve_movie(conn: psycopg.Connection, movie: int | str) -> Ref:
    """A MovieLens movie by id or title ('Toy Story', 'The Matrix', 'Heat (1995)'), most-rated on ties."""
    if isinstance(movie, int) or str(movie).strip().isdigit():
        found = movies(conn, [int(movie)])
        if not found:
            ids = _id_range(conn, ("movielens", "movies"), "movie_id")
            raise NotFoundError(f"unknown MovieLens movie id {movie} (movie ids are {ids})")
        return next(iter(found.values()))
    text = str(movie).strip()
    if not text:
        raise QueryError("empty movie title")
    if "\x00" in text:
        raise QueryError("movie title contains a NUL character")
    match = _YEAR.fullmatch(text)
    title, year = (match["title"], int(match["year"])) if match else (text, None)
    rows = conn.execute(sqlfiles.load("query/movie_titles"), {"titles": _stored_forms(title)}).fetchall()
    rows = [r for r in rows if year is None or r[2] == year]
    if not rows:
        hint = _suggest(conn, title, ("movielens", "movies"), "clean_title", "year")
        raise NotFoundError(f"unknown movie title {text!r}: {hint}")
    best, others = rows[0], rows[1:]
    alternatives = tuple(f"{r[1]} ({r[2]}) [id {r[0]}]" for r in others)
    return Ref("movielens", str(best[0]), best[1], best[2], list(best[3] or []), alternatives)


def resolve_show(conn: psycopg.Connection, show: str) -> Ref:
    """A Netflix show by id ('s123') or exact title (newest on ties)."""
    text = str(show).strip()
    if not text:
        raise QueryError("empty show id or title")
    if "\x00" in text:
        raise QueryError("show id or title contains a NUL character")
    if SHOW_ID.fullmatch(text.lower()):
        found = shows(conn, [text.lower()])
        if not found:
            raise NotFoundError(f"unknown Netflix show id {text!r} (ids look like s123; or give an exact title)")
        return next(iter(found.values()))
    rows = conn.execute(sqlfiles.load("query/show_titles"), {"title": " ".join(text.lower().split())}).fetchall()
    if not rows:
        hint = _suggest(conn, text, ("netflix", "shows"), "title", "release_year")
        raise NotFoundError(f"unknown Netflix show {text!r}: {hint}")
    best = rows[0]
    alternatives = tuple(f"{r[1]} ({r[3]}) [{r[0]}]" for r in rows[1:])
    return Ref("netflix", best[0], best[1], best[3], list(best[4] or []), alternatives, best[2] or "")
