-- Rows validated (in the database, by GX) for the netflix_titles_valid check (placeholders: the published or the staged tables).
SELECT show_id, show_type, title, release_year, duration_minutes, seasons
FROM {shows};
