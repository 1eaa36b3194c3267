DELETE FROM movrec.model_artifacts WHERE name = %(name)s;
