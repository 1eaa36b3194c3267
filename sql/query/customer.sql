-- One dvdrental customer with their number of rentals.
SELECT c.customer_id, c.first_name || ' ' || c.last_name AS name,
       (SELECT count(*) FROM dvdrental.rental r WHERE r.customer_id = c.customer_id)::integer AS rentals
  FROM dvdrental.customer c
 WHERE c.customer_id = %(customer_id)s
