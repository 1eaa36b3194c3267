-- A MovieLens user's stored recommendations with movie details.
SELECT r.rank, r.movie_id, m.clean_title, m.year, m.genres, r.score, r.explanation, r.method, r.generated_at
  FROM movrec.movielens_user_recommendations r
  JOIN movielens.movies m USING (movie_id)
 WHERE r.user_id = %(user_id)s
 ORDER BY r.rank
