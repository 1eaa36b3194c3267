-- Rows validated (in the database, by GX) for the dvdrental_rentals_valid check (placeholders: the published or the staged tables).
SELECT r.rental_id, i.inventory_id IS NOT NULL AS inventory_known, c.customer_id IS NOT NULL AS customer_known, f.film_id IS NOT NULL AS film_known
FROM {rental} r
LEFT JOIN {inventory} i USING (inventory_id)
LEFT JOIN {customer} c USING (customer_id)
LEFT JOIN {film} f ON f.film_id = i.film_id;
