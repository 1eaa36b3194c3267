-- All MovieLens ratings, as the recommenders read them (numbers only: read by binary COPY).
SELECT user_id, movie_id, rating::float8 AS rating, extract(epoch FROM rated_at)::int8 AS rated_at
FROM movielens.ratings
