-- What the MovieLens filters test, for every movie: genres, year and average rating (movrec.movie_stats).
SELECT movie_id, genres, year, avg_rating FROM movrec.movie_stats
