-- Text fields of every MovieLens movie, for embedding. Tags are left out on purpose: they are written
-- by the users the offline evaluation scores, so using them would leak test data.
SELECT movie_id::text AS item_key, clean_title, year, genres
  FROM movielens.movies
 ORDER BY movie_id
