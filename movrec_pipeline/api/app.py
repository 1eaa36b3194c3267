"""The ASGI application: ``create_app()`` (what ``movrec serve`` runs, one per worker process)."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from movrec_pipeline.api import auth, docs, problems
from movrec_pipeline.api.db import Database
from movrec_pipeline.api.limits import BodyLimitMiddleware
from movrec_pipeline.api.metrics import MetricsMiddleware
from movrec_pipeline.api.respond import settings_salt
from movrec_pipeline.api.routes import health, info, legacy, recommendations, search, similar
from movrec_pipeline.core.errors import MovrecError
from movrec_pipeline.core.settings import ApiSettings

VERSION = "1.0.0"
DESCRIPTION = """Recommendations, similar items, search and browsing over what the movrec pipeline materialized
(the same answers as the `movrec` command line and `movrec_pipeline.query`).

Errors are RFC 9457 `application/problem+json` bodies whose `detail` is the command line's one-line message.
Stored lists carry a strong `ETag`; send it back in `If-None-Match` for a 304 until a new materialization lands.
"""
log = logging.getLogger("movrec.api")


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The API for ``settings`` (default: ``MOVREC_API_*`` from the environment). Refuses (MovrecError) to serve a
    non-loopback address without API keys."""
    settings = settings or ApiSettings.from_env()
    hashes = auth.parse_hashes(settings.key_hashes)
    auth.check_binding(settings.host, hashes)
    db = Database(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await anyio.to_thread.run_sync(db.open)
        except MovrecError as exc:  # no warehouse yet: 503s until it exists
            log.warning("database not ready: %s", exc)
        await anyio.to_thread.run_sync(_warm_embedder)
        gc.collect()
        gc.freeze()  # the model's and the libraries' objects never move again: collections stay short while serving
        yield
        await anyio.to_thread.run_sync(db.close)

    app = FastAPI(title="movrec", version=VERSION, description=DESCRIPTION, lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url="/openapi.json")
    app.state.db, app.state.settings, app.state.salt = db, settings, settings_salt()
    problems.install(app, settings.retry_after_seconds)
    guard = [Depends(auth.key_check(hashes))] if hashes else []
    for module in (recommendations, similar, search, info, legacy):
        app.include_router(module.router(settings, bool(hashes)), dependencies=guard)
    app.include_router(health.router(settings, bool(hashes), guard))
    docs.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _warm_embedder() -> None:
    """Load the text model now, not in the first semantic search (the local model takes seconds)."""
    from movrec_pipeline.query import models

    with contextlib.suppress(MovrecError):
        models.embedder()


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(problems.schemas())
        app.openapi_schema = schema
    return app.openapi_schema
