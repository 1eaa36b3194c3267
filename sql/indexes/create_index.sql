-- A partial expression index over one kind and model's vectors (cosine distance), built without locking writers.
CREATE INDEX CONCURRENTLY {name} ON movrec.item_embeddings USING {method}
    ((embedding::vector({dim})) vector_cosine_ops) WITH ({params})
    WHERE item_kind = {kind} AND model_id = {model_id}
