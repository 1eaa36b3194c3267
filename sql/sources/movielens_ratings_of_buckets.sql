-- The ratings of the users in some buckets (user_id modulo n).
SELECT user_id, movie_id, rating::float8 AS rating, rated_at
FROM movielens.ratings
WHERE user_id %% %(n)s = ANY(%(buckets)s);
