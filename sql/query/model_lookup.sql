-- Registry id of a model that has been used (never inserts: read commands do not write).
SELECT model_id, provider, model, dimensions
  FROM movrec.embedding_models
 WHERE provider = %(provider)s AND model = %(model)s
   AND (%(template_version)s::text IS NULL OR template_version = %(template_version)s::text)
   AND (%(dimensions)s::integer IS NULL OR dimensions = %(dimensions)s::integer)
 ORDER BY model_id DESC
 LIMIT 1
