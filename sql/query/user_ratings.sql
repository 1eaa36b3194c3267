-- A MovieLens user's ratings with the rated movies' vectors for one model (NULL when the movie has none).
SELECT r.movie_id, r.rating::float8 AS rating, e.embedding
  FROM movielens.ratings r
  LEFT JOIN movrec.item_embeddings e
         ON e.item_kind = 'movielens' AND e.model_id = %(model_id)s AND e.item_key = r.movie_id::text
 WHERE r.user_id = %(user_id)s
