-- The MovieLens catalogue in id order.
SELECT movie_id, clean_title FROM movielens.movies ORDER BY movie_id;
