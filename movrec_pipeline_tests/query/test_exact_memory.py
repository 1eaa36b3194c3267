"""Exact search in memory: the same neighbours as a brute-force cosine ranking, filters with SQL's semantics."""

from __future__ import annotations

import numpy as np

from movrec_pipeline.query.exact_memory import LoadedVectors, search
from movrec_pipeline.query.filters import MovieFilter


def _table(n: int = 500, d: int = 16, seed: int = 3) -> tuple[LoadedVectors, np.ndarray]:
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(n, d)).astype(np.float32) * rng.uniform(0.01, 5, size=(n, 1)).astype(np.float32)
    keys = [str(1000 + i) for i in range(n)]
    genre_index = {"Action": 0, "Drama": 1, "Sci-Fi": 2}
    bits = rng.integers(0, 8, size=n)
    years = np.where(rng.random(n) < 0.1, np.nan, rng.integers(1950, 2024, size=n)).astype(float)
    ratings = np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0.5, 5, size=n))
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    table = LoadedVectors(keys, unit, bits, years, ratings, genre_index, {k: i for i, k in enumerate(keys)})
    return table, raw


def _brute(raw: np.ndarray, q: np.ndarray, keep: np.ndarray, k: int) -> list[int]:
    cos = raw @ q / (np.linalg.norm(raw, axis=1) * np.linalg.norm(q))
    order = [i for i in np.argsort(-cos, kind="stable") if keep[i]]
    return order[:k]


def test_neighbours_equal_a_brute_force_ranking_under_every_filter() -> None:
    table, raw = _table()
    rng = np.random.default_rng(9)
    filters = [None, MovieFilter(("Action",)), MovieFilter(("Action", "Sci-Fi"), 1980, 2000),
               MovieFilter((), None, 1970, 3.5), MovieFilter(("Drama",), 2030, None)]
    for where in filters:
        for _ in range(20):
            q = rng.normal(size=raw.shape[1]).astype(np.float32)
            exclude = [table.keys[i] for i in rng.choice(len(table.keys), 30, replace=False)]
            keep = np.ones(len(table.keys), bool) if table.mask(where) is None else table.mask(where)
            keep &= ~np.isin(np.array(table.keys), exclude)
            got = search(table, q, 10, where, exclude)
            assert [key for key, _ in got] == [table.keys[i] for i in _brute(raw, q, keep, 10)]
            assert all(0.0 <= dist <= 2.0 for _, dist in got) and [d for _, d in got] == sorted(d for _, d in got)


def test_filters_follow_sql_semantics() -> None:
    table, _ = _table()
    year_bound = table.mask(MovieFilter((), 1990, None))
    assert not year_bound[np.isnan(table.year)].any()  # unknown year never passes a year bound (NULL >= x)
    rated = table.mask(MovieFilter((), None, None, 4.0))
    assert not rated[np.isnan(table.rating)].any()
    both = table.mask(MovieFilter(("Action", "Drama")))
    assert (both == ((table.genre_bits & 3) == 3)).all()
    assert not table.mask(MovieFilter(("Western",))).any()  # a genre no movie has matches none
    assert table.mask(MovieFilter()) is None


def test_a_zero_query_or_k_finds_nothing() -> None:
    table, raw = _table()
    assert search(table, np.zeros(raw.shape[1], np.float32), 10, None, []) == []
    assert search(table, raw[0], 0, None, []) == []
    assert len(search(table, raw[0], 10_000, None, [])) == len(table.keys)  # k beyond the table: all of it
