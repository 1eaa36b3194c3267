COPY embedding_stage (item_key, bucket, text_hash, truncated, embedding) FROM STDIN WITH (FORMAT BINARY)
