-- The latest evaluation row of one method.
SELECT *
FROM movrec.recommendation_quality
WHERE method = %(method)s
ORDER BY evaluated_at DESC
LIMIT 1;
