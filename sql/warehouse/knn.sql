-- Nearest neighbours of %(q)s within one kind and model. The kind and model are literals composed in (never
-- parameters): a partial index's predicate must be provable from the query text, or a prepared statement's generic
-- plan falls back to the primary key plus a sort (an exact search that hides the index's real recall).
SELECT item_key, (embedding::vector({dim}) <=> %(q)s::vector({dim})) AS distance
FROM movrec.item_embeddings
WHERE item_kind = {kind} AND model_id = {model_id}
ORDER BY embedding::vector({dim}) <=> %(q)s::vector({dim})
LIMIT %(k)s
