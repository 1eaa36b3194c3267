-- The latest evaluation row of one method on one protocol.
SELECT *
FROM movrec.recommendation_quality
WHERE method = %(method)s AND protocol = %(protocol)s
ORDER BY evaluated_at DESC
LIMIT 1;
