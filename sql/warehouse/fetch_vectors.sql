-- Every vector of one kind and model, as binary COPY (literals composed in: COPY takes no parameters).
COPY (
    SELECT item_key, embedding
    FROM movrec.item_embeddings
    WHERE item_kind = {kind} AND model_id = {model_id}
    ORDER BY item_key
) TO STDOUT WITH (FORMAT BINARY)
