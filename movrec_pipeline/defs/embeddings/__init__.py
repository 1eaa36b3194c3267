"""Stage 2: item vectors (text embeddings in hash-bucket partitions, collaborative SVD vectors) and their checks."""
