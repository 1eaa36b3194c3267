-- The latest offline evaluation (every method of the newest run, per protocol).
SELECT protocol, method, ndcg_at_10, ndcg_low, ndcg_high, recall_at_20, hr_at_10, coverage_at_10,
       cold_recall_at_20, users, p_vs_best, evaluated_at
  FROM movrec.recommendation_quality
 WHERE evaluated_at = (SELECT max(evaluated_at) FROM movrec.recommendation_quality)
 ORDER BY protocol, ndcg_at_10 DESC NULLS LAST
