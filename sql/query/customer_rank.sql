-- Rank of one show in a customer's stored recommendations (no row: not among them).
SELECT rank FROM movrec.customer_netflix_recommendations WHERE customer_id = %(customer_id)s AND show_id = %(show_id)s
