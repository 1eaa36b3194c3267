-- Per-session staging table for one batch of vectors (binary COPY target).
CREATE TEMP TABLE IF NOT EXISTS embedding_stage (
    item_key  text     NOT NULL,
    bucket    smallint NOT NULL,
    text_hash text     NOT NULL,
    truncated boolean  NOT NULL,
    embedding vector   NOT NULL
) ON COMMIT DELETE ROWS
