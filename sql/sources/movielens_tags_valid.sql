-- Rows validated (in the database, by GX) for the movielens_tags_valid check (placeholders: the published or the staged tables).
SELECT t.tag, m.movie_id IS NOT NULL AS movie_known
FROM {tags} t
LEFT JOIN {movies} m USING (movie_id);
