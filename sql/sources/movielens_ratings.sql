-- All MovieLens ratings, as the recommenders read them.
SELECT user_id, movie_id, rating::float8 AS rating, rated_at FROM movielens.ratings
