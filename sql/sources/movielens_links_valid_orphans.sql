-- Links pointing at a movie that is not in the catalogue (must be 0); tables are published or staged.
SELECT count(*) AS unknown_movie
FROM {links} x
WHERE NOT EXISTS (SELECT 1 FROM {movies} m WHERE m.movie_id = x.movie_id)
