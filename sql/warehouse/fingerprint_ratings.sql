-- Fingerprint of the MovieLens ratings and catalogue.
SELECT md5(coalesce((SELECT string_agg(user_id || ':' || movie_id || ':' || rating || ':' || extract(epoch FROM rated_at),
                                       ',' ORDER BY user_id, movie_id) FROM movielens.ratings), '')
           || coalesce((SELECT string_agg(movie_id::text, ',' ORDER BY movie_id) FROM movielens.movies), ''))
