-- Every rental with its film, for customer profiles.
SELECT r.customer_id, i.film_id, r.rental_date
  FROM dvdrental.rental r
  JOIN dvdrental.inventory i USING (inventory_id)
