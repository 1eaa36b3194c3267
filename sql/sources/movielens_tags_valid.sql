-- Rows validated by the movielens_tags_valid check.
SELECT t.tag, m.movie_id IS NOT NULL AS movie_known
FROM movielens.tags t
LEFT JOIN movielens.movies m USING (movie_id);
