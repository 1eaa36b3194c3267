-- dvdrental film titles, for explanations.
SELECT film_id, title FROM dvdrental.film;
