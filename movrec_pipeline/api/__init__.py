"""The HTTP API over :mod:`movrec_pipeline.query` (``movrec serve``): no Dagster, no SQL of its own.

Modules: ``app`` (the factory), ``routes/`` (one module per area), ``problems`` (RFC 9457 errors), ``auth`` (API
keys), ``etag`` (strong ETags of stored lists), ``metrics`` (Prometheus), ``limits`` (body size), ``db`` (the
connection pool and worker threads), ``respond`` (running a query and serialising it), ``docs`` (Swagger UI
without a CDN), ``server`` (running it under granian or uvicorn).
"""
