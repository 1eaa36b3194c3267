-- Text fields of every Netflix show, for embedding.
SELECT show_id AS item_key, title, show_type, release_year, listed_in, description,
       cast_members AS cast, director, countries AS country, rating
  FROM netflix.shows
 ORDER BY show_id
