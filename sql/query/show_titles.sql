-- Netflix shows whose title equals the lower-cased text, newest first.
SELECT show_id, title, show_type, release_year, listed_in
  FROM netflix.shows
 WHERE lower(title) = %(title)s
 ORDER BY release_year DESC NULLS LAST, show_id
