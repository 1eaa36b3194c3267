-- Rows validated (in the database, by GX) for the dvdrental_films_valid check (placeholders: the published or the staged tables).
SELECT film_id, title, rental_rate, release_year
FROM {film};
