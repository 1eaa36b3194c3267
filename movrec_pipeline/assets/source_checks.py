"""Great Expectations checks of every source: keys, ranges, foreign keys and row-count floors."""

from __future__ import annotations

from movrec_pipeline.assets.common import gx_asset_check
from movrec_pipeline.quality.gx import Expect

TRUE = frozenset({True})

SOURCE_CHECKS = [
    gx_asset_check(
        "dvdrental", "dvdrental_films_valid",
        "SELECT film_id, title, rental_rate, release_year FROM dvdrental.film",
        [Expect("unique", "film_id"), Expect("not_null", "film_id"), Expect("not_null", "title"),
         Expect("between", "rental_rate", 0, 100), Expect("between", "release_year", 1900, 2100),
         Expect("row_count_between", min_value=1000)],
        "Films: unique non-null ids, titles present, sane rental rates and years, at least 1,000 rows.",
    ),
    gx_asset_check(
        "dvdrental", "dvdrental_rentals_valid",
        "SELECT r.rental_id, i.inventory_id IS NOT NULL AS inventory_known, "
        "c.customer_id IS NOT NULL AS customer_known, f.film_id IS NOT NULL AS film_known "
        "FROM dvdrental.rental r LEFT JOIN dvdrental.inventory i USING (inventory_id) "
        "LEFT JOIN dvdrental.customer c USING (customer_id) LEFT JOIN dvdrental.film f ON f.film_id = i.film_id",
        [Expect("unique", "rental_id"), Expect("in_set", "inventory_known", value_set=TRUE),
         Expect("in_set", "customer_known", value_set=TRUE), Expect("in_set", "film_known", value_set=TRUE),
         Expect("row_count_between", min_value=16000)],
        "Rentals: unique ids; every rental points at known inventory, customer and film; at least 16,000.",
    ),
    gx_asset_check(
        "netflix_titles", "netflix_titles_valid",
        "SELECT show_id, show_type, title, release_year, duration_minutes, seasons FROM netflix.shows",
        [Expect("unique", "show_id"), Expect("not_null", "show_id"), Expect("not_null", "title"),
         Expect("in_set", "show_type", value_set=frozenset({"Movie", "TV Show"})),
         Expect("between", "release_year", 1900, 2100), Expect("between", "duration_minutes", 1, 1000),
         Expect("between", "seasons", 1, 100), Expect("row_count_between", min_value=8000)],
        "Shows: unique ids and titles, known types, plausible years/durations, at least 8,000 rows.",
    ),
    gx_asset_check(
        "movielens_movies", "movielens_movies_valid",
        "SELECT movie_id, title, year FROM movielens.movies",
        [Expect("unique", "movie_id"), Expect("not_null", "title"), Expect("between", "year", 1870, 2100),
         Expect("row_count_between", min_value=9000)],
        "Movies: unique ids, titles present, years in range, at least 9,000 rows.",
    ),
    gx_asset_check(
        "movielens_ratings", "movielens_ratings_valid",
        "SELECT r.user_id, r.rating::float8 AS rating, m.movie_id IS NOT NULL AS movie_known "
        "FROM movielens.ratings r LEFT JOIN movielens.movies m USING (movie_id)",
        [Expect("not_null", "user_id"), Expect("between", "rating", 0.5, 5.0),
         Expect("in_set", "movie_known", value_set=TRUE), Expect("row_count_between", min_value=100000)],
        "Ratings: 0.5–5.0, every rating points at a known movie, at least 100,000 rows.",
    ),
    gx_asset_check(
        "movielens_links", "movielens_links_valid",
        "SELECT l.movie_id, m.movie_id IS NOT NULL AS movie_known FROM movielens.links l "
        "LEFT JOIN movielens.movies m USING (movie_id)",
        [Expect("unique", "movie_id"), Expect("in_set", "movie_known", value_set=TRUE),
         Expect("row_count_between", min_value=9000)],
        "Links: one per movie, all pointing at known movies.",
    ),
    gx_asset_check(
        "movielens_tags", "movielens_tags_valid",
        "SELECT t.tag, m.movie_id IS NOT NULL AS movie_known FROM movielens.tags t "
        "LEFT JOIN movielens.movies m USING (movie_id)",
        [Expect("not_null", "tag"), Expect("in_set", "movie_known", value_set=TRUE),
         Expect("row_count_between", min_value=1000)],
        "Tags: non-empty, all pointing at known movies.",
    ),
]
