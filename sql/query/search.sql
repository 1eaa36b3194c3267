-- Full-text search of MovieLens movies through the GIN expression index that sql/sources/movielens_search.sql creates.
-- {tsquery} is websearch_to_tsquery or to_tsquery (prefix fallback) of the bound %(text)s; the rank is divided
-- by 1 + log(document length), so "Dark Knight, The" ranks above "Batman: The Dark Knight Returns". The number of
-- ratings comes from the movrec.movie_stats table (one lookup per match, not a count over the ratings).
SELECT m.movie_id, m.clean_title, m.year, m.genres,
       ts_rank_cd(movrec.movie_search_document(m.clean_title, m.genres, m.year), q.query, 1)::float8 AS text_rank,
       coalesce(s.n_ratings, 0) AS n_ratings
  FROM movielens.movies m
  LEFT JOIN movrec.movie_stats s ON s.movie_id = m.movie_id,
       (SELECT {tsquery} AS query) q
 WHERE movrec.movie_search_document(m.clean_title, m.genres, m.year) @@ q.query
 ORDER BY text_rank DESC, n_ratings DESC, m.movie_id
 LIMIT %(limit)s
