-- Browse MovieLens movies by genre, rating and activity from the movrec.movie_stats table (an index per order).
-- {order} is one of a fixed set of ORDER BY lists chosen in code (never user text).
SELECT movie_id, clean_title, year, genres, n_ratings, avg_rating, recent_ratings, last_rated_at
  FROM movrec.movie_stats
 WHERE genres @> %(genres)s::text[]
   AND n_ratings >= %(min_count)s
   AND (%(min_rating)s::float8 IS NULL OR avg_rating >= %(min_rating)s::float8)
   AND recent_ratings >= %(min_recent)s
 ORDER BY {order}
 LIMIT %(k)s
