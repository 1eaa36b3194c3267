-- Full-text search over MovieLens titles, genres and year, and per-movie rating statistics.
-- Idempotent. Applied by the MovieLens source asset each time it publishes (in the publishing transaction;
-- the view depends on the swapped tables), and by movrec_pipeline.query when a warehouse published by an
-- older version lacks it (the version is the view's comment).

-- array_to_string is STABLE, so the document is built by an IMMUTABLE wrapper (safe: text[] output
-- does not depend on settings); the GIN index and the search query use the very same expression.
CREATE OR REPLACE FUNCTION movrec.movie_search_document(title text, genres text[], year integer)
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('english', coalesce(title, '')), 'A')
        || setweight(to_tsvector('english', coalesce(array_to_string(genres, ' '), '')), 'B')
        || setweight(to_tsvector('simple', coalesce(year::text, '')), 'C')
$$;

CREATE INDEX IF NOT EXISTS movies_search_idx ON movielens.movies
    USING gin (movrec.movie_search_document(clean_title, genres, year));

-- When ratings were given: makes max(rated_at) ("the newest rating") an index lookup for the view below.
CREATE INDEX IF NOT EXISTS ratings_rated_at_idx ON movielens.ratings (rated_at);

-- The ParadeDB search system's movie_stats as a plain view: ratings are aggregated per movie first (float averages), then
-- joined to every movie. "Recent" means the 365 days before the newest rating in the data set
-- (MovieLens snapshots end years before today). Dropped and created (in the applying transaction) so a
-- new version may change column types; nothing else depends on it.
DROP VIEW IF EXISTS movrec.movie_stats;
CREATE VIEW movrec.movie_stats AS
WITH newest AS (SELECT max(rated_at) AS rated_at FROM movielens.ratings),
per_movie AS (
    SELECT r.movie_id, count(*) AS n, avg(r.rating::float8) AS mean, min(r.rating::float8) AS lo,
           max(r.rating::float8) AS hi,
           max(r.rated_at) AS last_at,
           count(*) FILTER (WHERE r.rated_at > newest.rated_at - interval '365 days') AS recent
      FROM movielens.ratings r
     CROSS JOIN newest
     GROUP BY r.movie_id
)
SELECT m.movie_id, m.clean_title, m.year, m.genres,
       coalesce(p.n, 0)::integer AS n_ratings,
       round(p.mean::numeric, 3)::float8 AS avg_rating,
       p.lo AS min_rating,
       p.hi AS max_rating,
       p.last_at AS last_rated_at,
       coalesce(p.recent, 0)::integer AS recent_ratings
  FROM movielens.movies m
  LEFT JOIN per_movie p ON p.movie_id = m.movie_id;

COMMENT ON VIEW movrec.movie_stats IS 'per-movie rating count, average, range, last and recent activity';
