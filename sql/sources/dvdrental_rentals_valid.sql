-- Rows validated by the dvdrental_rentals_valid check.
SELECT r.rental_id, i.inventory_id IS NOT NULL AS inventory_known, c.customer_id IS NOT NULL AS customer_known, f.film_id IS NOT NULL AS film_known
FROM dvdrental.rental r
LEFT JOIN dvdrental.inventory i USING (inventory_id)
LEFT JOIN dvdrental.customer c USING (customer_id)
LEFT JOIN dvdrental.film f ON f.film_id = i.film_id;
