-- Every method's row of the latest evaluation, per protocol.
SELECT protocol, method, ndcg_at_10, recall_at_20, hr_at_10, coverage_at_10, cold_recall_at_20, cold_ndcg_at_20,
       users, p_vs_best
FROM movrec.recommendation_quality
WHERE evaluated_at = (SELECT max(evaluated_at) FROM movrec.recommendation_quality);
