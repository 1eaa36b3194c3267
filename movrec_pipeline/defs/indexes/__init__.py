"""Stage 3: pgvector indexes (HNSW / IVFFlat) per item kind and model, with recall checks."""
