-- Stored recommendation rows per user bucket (user_id modulo n), for some buckets.
SELECT user_id %% %(n)s AS bucket, count(*)
FROM movrec.movielens_user_recommendations
WHERE user_id %% %(n)s = ANY(%(buckets)s)
GROUP BY 1;
