-- A MovieLens user's number of ratings and mean rating (users exist through their ratings).
SELECT count(*)::integer AS n_ratings, avg(rating)::float8 AS mean_rating
  FROM movielens.ratings
 WHERE user_id = %(user_id)s
