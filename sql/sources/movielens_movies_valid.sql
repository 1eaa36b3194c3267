-- Rows validated (in the database, by GX) for the movielens_movies_valid check (placeholders: the published or the staged tables).
SELECT movie_id, title, year
FROM {movies};
