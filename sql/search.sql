-- Full-text search over MovieLens titles, genres and year, and per-movie rating statistics.
-- Idempotent. Applied by movrec_pipeline.query the first time `movrec search` or `movrec browse` finds it
-- missing or outdated (the version is the view's comment); every other query command only reads.

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

-- Seed 003's movie_stats as a plain view (100k ratings aggregate in a few ms). "Recent" means the last
-- 365 days before the newest rating in the data set (MovieLens snapshots end years before today).
CREATE OR REPLACE VIEW movrec.movie_stats AS
WITH newest AS (SELECT max(rated_at) AS rated_at FROM movielens.ratings)
SELECT m.movie_id, m.clean_title, m.year, m.genres,
       count(r.rating)::integer AS n_ratings,
       round(avg(r.rating), 3)::float8 AS avg_rating,
       min(r.rating) AS min_rating,
       max(r.rating) AS max_rating,
       max(r.rated_at) AS last_rated_at,
       (count(r.rating) FILTER (WHERE r.rated_at > newest.rated_at - interval '365 days'))::integer AS recent_ratings
  FROM movielens.movies m
 CROSS JOIN newest
  LEFT JOIN movielens.ratings r ON r.movie_id = m.movie_id
 GROUP BY m.movie_id, newest.rated_at;

COMMENT ON VIEW movrec.movie_stats IS 'movrec search v1: per-movie rating count, average, range, last and recent activity';
