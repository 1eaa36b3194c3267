-- Rows validated by the movielens_links_valid check.
SELECT l.movie_id, m.movie_id IS NOT NULL AS movie_known
FROM movielens.links l
LEFT JOIN movielens.movies m USING (movie_id);
