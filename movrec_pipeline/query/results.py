"""Plain dataclasses returned by the query API (``dataclasses.asdict`` gives JSON-ready dicts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Item:
    """One ranked Netflix show (``kind="netflix"``) or MovieLens movie (``kind="movielens"``)."""

    rank: int
    kind: str
    id: str
    title: str
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    score: float | None = None
    because: str | None = None
    extra: dict[str, object] = field(default_factory=dict)  # command-specific columns (avg_rating, source …)


@dataclass
class Listing:
    """Ranked items, what was asked and what produced them (a table, a live index query …)."""

    title: str
    source: str
    items: list[Item]
    notes: list[str] = field(default_factory=list)
    generated_at: datetime | None = None


@dataclass
class Driver:
    """A rented film and how similar it is to the explained show."""

    film_id: int
    title: str
    similarity: float
    rentals: int


@dataclass
class Explanation:
    """Why a show suits a customer: the profile's cosine and the rented films closest to the show."""

    customer_id: int
    customer: str
    show: Item
    profile_similarity: float
    table_rank: int | None
    rentals: int
    films_with_vectors: int
    drivers: list[Driver]
    model: str


@dataclass
class SourceStatus:
    """Items, vectors, coverage and index of one item kind under one model."""

    source: str
    model: str
    model_id: int
    active: bool
    items: int
    vectors: int
    coverage_pct: float
    index: str | None
    index_method: str | None
    last_materialized: datetime | None
    materialized_from: str  # the table column (or movrec.asset_state) it was read from


@dataclass
class TableStatus:
    """Rows and last build of one derived table."""

    asset: str
    table: str
    rows: int
    last_materialized: datetime | None
    materialized_from: str


@dataclass
class Status:
    """What the pipeline has materialized, per source and model, plus the latest quality evaluation."""

    database: str
    active_model: str | None
    sources: list[SourceStatus]
    tables: list[TableStatus]
    quality: list[dict[str, object]]
    notes: list[str] = field(default_factory=list)
