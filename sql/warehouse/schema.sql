-- Warehouse schema: idempotent, applied on every resource start.
-- dvdrental lives in its own schema, restored by the `dvdrental` asset (see dvdrental_swap.sql).
CREATE SCHEMA IF NOT EXISTS netflix;
CREATE SCHEMA IF NOT EXISTS movielens;
CREATE SCHEMA IF NOT EXISTS movrec;

CREATE TABLE IF NOT EXISTS movrec.quarantine (
    source         text        NOT NULL,
    line_no        integer,
    item_key       text,
    reason         text        NOT NULL,
    raw            text,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS quarantine_source_idx ON movrec.quarantine (source);

CREATE TABLE IF NOT EXISTS netflix.shows (
    show_id          text PRIMARY KEY,
    show_type        text    NOT NULL,
    title            text    NOT NULL,
    director         text,
    cast_members     text[]  NOT NULL DEFAULT '{}',
    countries        text[]  NOT NULL DEFAULT '{}',
    date_added       date,
    release_year     integer,
    rating           text,
    duration_minutes integer,
    seasons          integer,
    listed_in        text[]  NOT NULL DEFAULT '{}',
    description      text
);

-- MovieLens tables are loaded by write-audit-publish (staged, audited, swapped in together): the loader
-- quarantines ratings, links and tags of unknown movies and the audits check it, so no foreign keys tie
-- the tables to each other (they would stop the swap).
CREATE TABLE IF NOT EXISTS movielens.movies (
    movie_id    integer PRIMARY KEY,
    title       text    NOT NULL,
    clean_title text    NOT NULL,
    year        integer,
    genres      text[]  NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS movielens.links (
    movie_id integer PRIMARY KEY,
    imdb_id  integer,
    tmdb_id  integer
);
CREATE TABLE IF NOT EXISTS movielens.ratings (
    user_id  integer      NOT NULL,
    movie_id integer      NOT NULL,
    rating   real         NOT NULL CHECK (rating BETWEEN 0.5 AND 5.0 AND rating * 2 = trunc(rating * 2)),
    rated_at timestamptz  NOT NULL,
    PRIMARY KEY (user_id, movie_id)
);
CREATE INDEX IF NOT EXISTS ratings_movie_idx ON movielens.ratings (movie_id);
-- Ratings are real (float4: half steps are exact), so 32 M of them load by binary COPY; older warehouses
-- stored numeric(2,1).
DO $$ BEGIN
    IF (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
         WHERE attrelid = 'movielens.ratings'::regclass AND attname = 'rating') <> 'real' THEN
        DROP VIEW IF EXISTS movrec.movie_stats;  -- depends on the column; the next MovieLens load recreates it
        ALTER TABLE movielens.ratings ALTER COLUMN rating TYPE real;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS movielens.tags (
    user_id   integer     NOT NULL,
    movie_id  integer     NOT NULL,
    tag       text        NOT NULL,
    tagged_at timestamptz NOT NULL
);

-- Embeddings: one registry row per (provider, model, dimensions, template version); vectors keyed
-- by item and model so a model switch keeps the old vectors queryable.
CREATE TABLE IF NOT EXISTS movrec.embedding_models (
    model_id         serial PRIMARY KEY,
    provider         text    NOT NULL,
    model            text    NOT NULL,
    dimensions       integer NOT NULL CHECK (dimensions > 0),
    template_version text    NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, model, dimensions, template_version)
);
CREATE TABLE IF NOT EXISTS movrec.item_embeddings (
    item_kind   text        NOT NULL,
    model_id    integer     NOT NULL REFERENCES movrec.embedding_models,
    item_key    text        NOT NULL,
    bucket      smallint    NOT NULL,
    text_hash   text        NOT NULL,
    truncated   boolean     NOT NULL DEFAULT false,
    embedding   vector      NOT NULL,
    embedded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_kind, model_id, item_key)
);

-- Items a provider refused (400, NaN or zero vector …): sent again on later runs until they failed
-- MAX_ATTEMPTS times with the same text, then parked until their text changes.
CREATE TABLE IF NOT EXISTS movrec.embedding_errors (
    item_kind   text        NOT NULL,
    model_id    integer     NOT NULL REFERENCES movrec.embedding_models,
    item_key    text        NOT NULL,
    bucket      smallint    NOT NULL,
    text_hash   text        NOT NULL,
    error_class text        NOT NULL,
    message     text        NOT NULL,
    attempts    integer     NOT NULL DEFAULT 1,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_kind, model_id, item_key)
);

-- Recommendations: each table is replaced as a whole in one transaction (DELETE + COPY), so a reader
-- sees the previous complete table or the new complete one.
CREATE TABLE IF NOT EXISTS movrec.customer_profiles (
    customer_id integer PRIMARY KEY,
    model_id    integer     NOT NULL,
    n_films     integer     NOT NULL,
    profile     vector      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS movrec.profile_gaps (
    customer_id integer PRIMARY KEY,
    reason      text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS movrec.customer_netflix_recommendations (
    customer_id        integer     NOT NULL,
    rank               smallint    NOT NULL,
    show_id            text        NOT NULL,
    score              real        NOT NULL,  -- cosine similarity of show and profile
    distance           real        NOT NULL,  -- cosine distance (1 - score), as pgvector's <=>
    because_film_id    integer,
    because_title      text,
    because_similarity real,
    model_id           integer     NOT NULL,
    generated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, rank)
);
CREATE TABLE IF NOT EXISTS movrec.movielens_user_recommendations (
    user_id          integer     NOT NULL,
    rank             smallint    NOT NULL,
    movie_id         integer     NOT NULL,
    score            real        NOT NULL,
    because_movie_ids integer[]  NOT NULL DEFAULT '{}',
    explanation      text,
    method           text        NOT NULL,
    generated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, rank)
);
CREATE TABLE IF NOT EXISTS movrec.movielens_similar_movies (
    movie_id         integer  NOT NULL,
    source           text     NOT NULL CHECK (source IN ('collaborative', 'text')),
    rank             smallint NOT NULL,
    similar_movie_id integer  NOT NULL,
    similarity       real     NOT NULL,
    PRIMARY KEY (movie_id, source, rank)
);
CREATE TABLE IF NOT EXISTS movrec.recommendation_quality (
    evaluated_at    timestamptz NOT NULL DEFAULT now(),
    method          text        NOT NULL,
    ndcg_at_10      real,
    recall_at_20    real,
    hr_at_10        real,
    coverage_at_10  real,
    cold_recall_at_20 real,
    users           integer,
    seconds         real
);
-- protocol (T80 / U20), a 95 % bootstrap interval of NDCG@10, and on the project's row the paired test
-- against the best baseline (added later: old rows are T80)
ALTER TABLE movrec.recommendation_quality
    ADD COLUMN IF NOT EXISTS protocol text NOT NULL DEFAULT 'T80',
    ADD COLUMN IF NOT EXISTS ndcg_low real,
    ADD COLUMN IF NOT EXISTS ndcg_high real,
    ADD COLUMN IF NOT EXISTS p_vs_best double precision;  -- p-values reach 1e-300: beyond real

-- Fitted models (NumPy arrays in 64 MB parts): fitted by one step, loaded by any worker that scores with them.
CREATE TABLE IF NOT EXISTS movrec.model_artifacts (
    name        text    NOT NULL,
    fingerprint text    NOT NULL,
    array_name  text    NOT NULL,  -- '' for the header (layout and settings, JSON)
    part        integer NOT NULL,
    payload     bytea   NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, array_name, part)
);
ALTER TABLE movrec.model_artifacts ALTER COLUMN payload SET STORAGE EXTERNAL;  -- no pointless compression

-- Input fingerprints of the last successful build of each derived asset: an asset whose inputs and
-- settings are unchanged skips its rebuild (a no-change daily refresh stays fast).
CREATE TABLE IF NOT EXISTS movrec.asset_state (
    asset       text PRIMARY KEY,
    fingerprint text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- A change of the recorded versions is announced on channel movrec_asset_state when its transaction commits, so a
-- reader that keeps a copy (the HTTP API's ETags) learns of a new materialization without polling.
CREATE OR REPLACE FUNCTION movrec.announce_asset_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('movrec_asset_state', '');
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER asset_state_announced AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON movrec.asset_state
    FOR EACH STATEMENT EXECUTE FUNCTION movrec.announce_asset_state();

-- The search settings each vector index was tuned to (written by the index assets, read by every query path).
CREATE TABLE IF NOT EXISTS movrec.vector_index_settings (
    item_kind       text        NOT NULL,
    model_id        integer     NOT NULL,
    index_name      text        NOT NULL,
    method          text        NOT NULL,
    build_params    jsonb       NOT NULL,
    ef_search       integer,
    probes          integer,
    recall_at_10    real        NOT NULL,
    p50_ms          real        NOT NULL,
    p95_ms          real        NOT NULL,
    recall_floor    real        NOT NULL,
    exact_fallback  boolean     NOT NULL,
    tuned_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_kind, model_id)
);

-- The served MovieLens model as chosen on the loaded data's own validation split (history: one row per choice).
CREATE TABLE IF NOT EXISTS movrec.model_selection (
    selected_at timestamptz NOT NULL DEFAULT now(),
    served      text        NOT NULL,
    settings    jsonb       NOT NULL,  -- the hybrid's settings
    baselines   jsonb       NOT NULL,  -- each baseline's tuned values
    validation  jsonb       NOT NULL,  -- every candidate's validation figures
    calibration jsonb,                 -- hit probability by rank, warm and cold lists (null: head first)
    users       integer     NOT NULL,
    ratings     bigint      NOT NULL,
    seconds     real        NOT NULL,
    note        text        NOT NULL DEFAULT ''
);
ALTER TABLE movrec.recommendation_quality ADD COLUMN IF NOT EXISTS cold_ndcg_at_20 real;
