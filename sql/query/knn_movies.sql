-- Nearest MovieLens movies to %(q)s under one model, among those passing a filter (all of %(genres)s, a year
-- range, an average rating from movrec.movie_stats; NULL bounds are off) and not in %(exclude)s (item keys).
-- {dim} and {model_id} are literals composed in, as in warehouse/knn.sql, so the partial HNSW index applies; with
-- hnsw.iterative_scan on, the index scan goes on past ef_search until LIMIT rows pass the filter (or the scan
-- gives up at hnsw.max_scan_tuples: the caller then searches exactly).
SELECT e.item_key, (e.embedding::vector({dim}) <=> %(q)s::vector({dim})) AS distance
  FROM movrec.item_embeddings e
  JOIN movielens.movies m ON m.movie_id = e.item_key::integer
  LEFT JOIN movrec.movie_stats s ON s.movie_id = m.movie_id
 WHERE e.item_kind = 'movielens' AND e.model_id = {model_id}
   AND m.genres @> %(genres)s::text[]
   AND (%(year_min)s::integer IS NULL OR m.year >= %(year_min)s::integer)
   AND (%(year_max)s::integer IS NULL OR m.year <= %(year_max)s::integer)
   AND (%(min_rating)s::float8 IS NULL OR s.avg_rating >= %(min_rating)s::float8)
   AND e.item_key <> ALL(%(exclude)s::text[])
 ORDER BY e.embedding::vector({dim}) <=> %(q)s::vector({dim})
 LIMIT %(k)s
