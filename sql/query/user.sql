-- A MovieLens user's number of ratings and mean rating (users exist through their ratings; no row: unknown user).
SELECT n_ratings, mean_rating
  FROM movrec.user_stats
 WHERE user_id = %(user_id)s
