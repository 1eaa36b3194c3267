"""Operations: liveness, readiness (database, tables, models) and Prometheus metrics."""

# no `from __future__ import annotations`: FastAPI reads these annotations when the routes are declared
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from movrec_pipeline.api import metrics, problems
from movrec_pipeline.api.respond import JSON, dumps
from movrec_pipeline.core.settings import ApiSettings
from movrec_pipeline.query.errors import QueryError
from movrec_pipeline.query.health import Readiness, readiness


def router(settings: ApiSettings, auth: bool, guard: list[Depends]) -> APIRouter:
    r = APIRouter(tags=["operations"])

    @r.get("/livez", operation_id="livez", summary="The process answers",
           responses={200: {"content": {JSON: {"schema": {"type": "object", "properties": {
               "status": {"type": "string", "enum": ["ok"]}}, "required": ["status"]}}}}})
    async def livez() -> Response:
        """Always 200 while the server runs (no database call)."""
        return Response(b'{"status":"ok"}', media_type=JSON)

    @r.get("/readyz", response_model=Readiness, operation_id="readyz",
           summary="Database reachable, tables materialized, models present",
           responses={503: problems.declared()[503]})
    async def readyz(request: Request) -> Response:
        """200 when every query can be answered; else 503 naming the first failed check (all in `checks`)."""
        try:
            ready = await request.app.state.db.run(lambda conn: readiness(conn=conn))
        except QueryError as exc:
            ready = Readiness(False, {"database": str(exc)}, ["database"])
        if ready.ready:
            return Response(dumps(ready), media_type=JSON)
        first = ready.failed[0]
        return problems.response(503, f"{first}: {ready.checks[first]}", request.url.path, slug="not-ready",
                                 headers={"Retry-After": str(settings.retry_after_seconds)}, checks=ready.checks)

    @r.get("/metrics", operation_id="metrics", summary="Prometheus metrics", dependencies=guard,
           responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
                      **{k: v for k, v in problems.declared(auth=auth).items() if k == 401}})
    async def metrics_text(request: Request) -> Response:
        """Requests by route and status, latency histograms, requests in flight, database pool connections."""
        payload, content_type = metrics.render(request.app.state.db.stats())
        return Response(payload, media_type=content_type)

    return r
