-- Rows validated by the netflix_titles_valid check.
SELECT show_id, show_type, title, release_year, duration_minutes, seasons
FROM netflix.shows;
