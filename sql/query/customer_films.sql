-- A customer's rented films with rental counts and their vector for one model (NULL when not embedded).
WITH rented AS (
    SELECT i.film_id, count(*)::integer AS rentals
      FROM dvdrental.rental r
      JOIN dvdrental.inventory i USING (inventory_id)
     WHERE r.customer_id = %(customer_id)s
     GROUP BY i.film_id
)
SELECT rented.film_id, f.title, rented.rentals, e.embedding
  FROM rented
  JOIN dvdrental.film f ON f.film_id = rented.film_id
  LEFT JOIN movrec.item_embeddings e
         ON e.item_kind = 'film' AND e.model_id = %(model_id)s AND e.item_key = rented.film_id::text
 ORDER BY rented.film_id
