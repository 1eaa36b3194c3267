-- Rows validated by the movielens_movies_valid check.
SELECT movie_id, title, year
FROM movielens.movies;
