-- Netflix show titles, for previews.
SELECT show_id, title FROM netflix.shows;
