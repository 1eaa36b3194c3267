-- Register a model (idempotent) and return its id.
WITH ins AS (
    INSERT INTO movrec.embedding_models (provider, model, dimensions, template_version)
    VALUES (%(provider)s, %(model)s, %(dimensions)s, %(template_version)s)
    ON CONFLICT (provider, model, dimensions, template_version) DO NOTHING
    RETURNING model_id
)
SELECT model_id FROM ins
UNION ALL
SELECT model_id FROM movrec.embedding_models
 WHERE provider = %(provider)s AND model = %(model)s AND dimensions = %(dimensions)s
   AND template_version = %(template_version)s
LIMIT 1
