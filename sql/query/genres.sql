-- Every MovieLens genre name.
SELECT DISTINCT unnest(genres) AS genre FROM movielens.movies ORDER BY 1
