-- Rows validated by the movielens_ratings_valid check.
SELECT r.user_id, r.rating::float8 AS rating, m.movie_id IS NOT NULL AS movie_known
FROM movielens.ratings r
LEFT JOIN movielens.movies m USING (movie_id);
