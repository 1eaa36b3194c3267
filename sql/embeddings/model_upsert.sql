-- Register a model (idempotent) and return its id; the SELECT first keeps ids dense.
WITH existing AS (
    SELECT model_id FROM movrec.embedding_models
     WHERE provider = %(provider)s AND model = %(model)s AND dimensions = %(dimensions)s
       AND template_version = %(template_version)s
), ins AS (
    INSERT INTO movrec.embedding_models (provider, model, dimensions, template_version)
    SELECT %(provider)s, %(model)s, %(dimensions)s, %(template_version)s
     WHERE NOT EXISTS (SELECT 1 FROM existing)
    ON CONFLICT (provider, model, dimensions, template_version) DO NOTHING
    RETURNING model_id
)
SELECT model_id FROM existing
UNION ALL
SELECT model_id FROM ins
UNION ALL
SELECT model_id FROM movrec.embedding_models  -- a concurrent insert won the race
 WHERE provider = %(provider)s AND model = %(model)s AND dimensions = %(dimensions)s
   AND template_version = %(template_version)s
LIMIT 1
