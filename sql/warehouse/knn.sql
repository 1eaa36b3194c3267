-- Nearest neighbours of %(q)s within one kind and model; expression and predicate match the partial
-- expression indexes (sql/indexes/create_index.sql), so the index answers.
SELECT item_key, (embedding::vector({dim}) <=> %(q)s::vector({dim})) AS distance
FROM movrec.item_embeddings
WHERE item_kind = %(kind)s AND model_id = %(model_id)s
ORDER BY embedding::vector({dim}) <=> %(q)s::vector({dim})
LIMIT %(k)s
