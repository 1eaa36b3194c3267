-- A MovieLens user's stored recommendations with movie details, and the user's number of ratings.
SELECT r.rank, r.movie_id, m.clean_title, m.year, m.genres, r.score, r.explanation, r.method, r.generated_at,
       s.n_ratings
  FROM movrec.movielens_user_recommendations r
  JOIN movielens.movies m USING (movie_id)
  LEFT JOIN movrec.user_stats s ON s.user_id = r.user_id
 WHERE r.user_id = %(user_id)s
 ORDER BY r.rank
