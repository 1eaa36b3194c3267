-- The latest offline evaluation (every method of the newest run).
SELECT method, ndcg_at_10, recall_at_20, hr_at_10, coverage_at_10, cold_recall_at_20, users, evaluated_at
  FROM movrec.recommendation_quality
 WHERE evaluated_at = (SELECT max(evaluated_at) FROM movrec.recommendation_quality)
 ORDER BY ndcg_at_10 DESC NULLS LAST
