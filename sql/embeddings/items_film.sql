-- Text fields of every dvdrental film, for embedding.
SELECT f.film_id::text AS item_key, f.title, f.release_year, f.rating::text AS rating, f.description,
       (SELECT string_agg(c.name, ', ' ORDER BY c.name)
          FROM dvdrental.film_category fc JOIN dvdrental.category c USING (category_id)
         WHERE fc.film_id = f.film_id) AS category,
       (SELECT array_agg(initcap(a.first_name || ' ' || a.last_name) ORDER BY a.actor_id)
          FROM dvdrental.film_actor fa JOIN dvdrental.actor a USING (actor_id)
         WHERE fa.film_id = f.film_id) AS cast
  FROM dvdrental.film f
 ORDER BY f.film_id
