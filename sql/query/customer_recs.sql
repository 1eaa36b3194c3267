-- A customer's stored Netflix recommendations with show details.
SELECT r.rank, r.show_id, s.title, s.show_type, s.release_year, s.listed_in, r.score, r.because_film_id,
       r.because_title, r.because_similarity, r.model_id, r.generated_at
  FROM movrec.customer_netflix_recommendations r
  LEFT JOIN netflix.shows s USING (show_id)
 WHERE r.customer_id = %(customer_id)s
 ORDER BY r.rank
