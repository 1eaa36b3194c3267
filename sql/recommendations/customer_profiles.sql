-- The stored profile of every customer under one model.
SELECT customer_id, profile
FROM movrec.customer_profiles
WHERE model_id = %(model_id)s
ORDER BY customer_id;
