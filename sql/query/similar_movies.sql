-- Stored nearest neighbours of one MovieLens movie, per source (collaborative, text).
SELECT s.source, s.rank, s.similar_movie_id, m.clean_title, m.year, m.genres, s.similarity
  FROM movrec.movielens_similar_movies s
  JOIN movielens.movies m ON m.movie_id = s.similar_movie_id
 WHERE s.movie_id = %(movie_id)s AND s.source = ANY(%(sources)s)
 ORDER BY s.source, s.rank
