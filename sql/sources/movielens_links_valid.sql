-- Rows validated (in the database, by GX) for the movielens_links_valid check (placeholders: the published or the staged tables).
SELECT l.movie_id, m.movie_id IS NOT NULL AS movie_known
FROM {links} l
LEFT JOIN {movies} m USING (movie_id);
