-- One array of an artifact, part by part.
SELECT payload FROM movrec.model_artifacts WHERE name = %(name)s AND array_name = %(array)s ORDER BY part;
