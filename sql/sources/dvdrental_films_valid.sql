-- Rows validated by the dvdrental_films_valid check.
SELECT film_id, title, rental_rate, release_year
FROM dvdrental.film;
