-- Every dvdrental customer id.
SELECT customer_id FROM dvdrental.customer ORDER BY customer_id;
