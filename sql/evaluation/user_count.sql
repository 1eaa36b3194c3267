-- How many MovieLens users rated anything.
SELECT count(DISTINCT user_id) FROM movielens.ratings;
