SELECT payload FROM movrec.model_artifacts WHERE name = %(name)s AND array_name = '' AND part = 0;
