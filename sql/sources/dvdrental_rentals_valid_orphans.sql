-- Rentals whose inventory, customer or film is missing (each must be 0); tables are published or staged.
SELECT count(*) FILTER (WHERE i.inventory_id IS NULL)                       AS unknown_inventory,
       count(*) FILTER (WHERE c.customer_id IS NULL)                        AS unknown_customer,
       count(*) FILTER (WHERE i.inventory_id IS NOT NULL AND f.film_id IS NULL) AS unknown_film
FROM {rental} r
LEFT JOIN {inventory} i USING (inventory_id)
LEFT JOIN {customer} c USING (customer_id)
LEFT JOIN {film} f ON f.film_id = i.film_id
