-- MovieLens movies by id.
SELECT movie_id, clean_title, year, genres FROM movielens.movies WHERE movie_id = ANY(%(ids)s)
