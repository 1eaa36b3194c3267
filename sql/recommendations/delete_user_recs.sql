-- The rows of the users in some buckets, before their new ones are written (same transaction).
DELETE FROM movrec.movielens_user_recommendations WHERE user_id %% %(n)s = ANY(%(buckets)s);
