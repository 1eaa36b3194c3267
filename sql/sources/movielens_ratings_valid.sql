-- Rows validated (in the database, by GX) for the movielens_ratings_valid check (placeholders: the published or the staged tables).
SELECT r.user_id, r.rating::float8 AS rating, m.movie_id IS NOT NULL AS movie_known
FROM {ratings} r
LEFT JOIN {movies} m USING (movie_id);
