-- Full-text search of MovieLens movies: the search document stored in movrec.movie_stats with its GIN index
-- (sql/sources/movielens_search.sql), and the movie's number of ratings beside it.
-- {tsquery} is websearch_to_tsquery or to_tsquery (prefix fallback) of the bound %(text)s; the rank is divided
-- by 1 + log(document length), so "Dark Knight, The" ranks above "Batman: The Dark Knight Returns".
SELECT s.movie_id, s.clean_title, s.year, s.genres, ts_rank_cd(s.document, q.query, 1)::float8 AS text_rank,
       s.n_ratings
  FROM movrec.movie_stats s, (SELECT {tsquery} AS query) q
 WHERE s.document @@ q.query
 ORDER BY text_rank DESC, s.n_ratings DESC, s.movie_id
 LIMIT %(limit)s
