ALTER TABLE {stage} SET SCHEMA {schema};
