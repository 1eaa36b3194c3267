-- An empty staging copy of a published table: columns, defaults, NOT NULL and CHECK constraints, no indexes
-- (they are built after the bulk load, from the published table's own definitions).
CREATE SCHEMA IF NOT EXISTS movrec_stage;
DROP TABLE IF EXISTS {stage};
CREATE TABLE {stage} (LIKE {target} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED
                      INCLUDING STATISTICS INCLUDING COMMENTS);
