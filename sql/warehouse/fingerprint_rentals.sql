-- Fingerprint of who rented what (dvdrental), and of the customer list.
SELECT md5(coalesce((SELECT string_agg(r.rental_id || ':' || r.customer_id || ':' || i.film_id || ':' || r.rental_date,
                                       ',' ORDER BY r.rental_id)
                       FROM dvdrental.rental r JOIN dvdrental.inventory i USING (inventory_id)), '')
           || coalesce((SELECT string_agg(customer_id::text, ',' ORDER BY customer_id) FROM dvdrental.customer), ''))
