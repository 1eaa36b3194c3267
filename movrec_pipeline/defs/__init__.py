"""Dagster definitions, one folder per stage of the data's path; autoloaded by ``movrec_pipeline.definitions``."""
