-- Netflix shows by id.
SELECT show_id, title, show_type, release_year, listed_in FROM netflix.shows WHERE show_id = ANY(%(ids)s)
