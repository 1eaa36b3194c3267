-- MovieLens movies whose title or clean title equals one of the lower-cased candidates, most rated first.
SELECT m.movie_id, m.clean_title, m.year, m.genres
  FROM movielens.movies m
 WHERE lower(m.clean_title) = ANY(%(titles)s) OR lower(m.title) = ANY(%(titles)s)
 ORDER BY (SELECT count(*) FROM movielens.ratings r WHERE r.movie_id = m.movie_id) DESC, m.movie_id
