-- Whether sql/search.sql is applied in its current version (see the view comment there).
SELECT to_regclass('movielens.movies_search_idx') IS NOT NULL
   AND to_regclass('movrec.movie_stats') IS NOT NULL
   AND coalesce(obj_description(to_regclass('movrec.movie_stats'), 'pg_class'), '') LIKE %(version)s || ':%%'
