"""RFC 9457 problem details: every error is ``application/problem+json`` carrying the CLI's one-line message.

Statuses follow the query API's error classes: an unknown id, title or genre is 404 (the message suggests close
matches), a bad parameter 422, nothing materialized yet or a database that cannot answer now 503 with
``Retry-After``, any other database error 500 — never a stack trace.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response

from movrec_pipeline.query.errors import (
    DatabaseError,
    NotFoundError,
    NotMaterializedError,
    QueryError,
    UnavailableError,
)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:movrec:problem:"
log = logging.getLogger("movrec.api")


class FieldError(BaseModel):
    """One invalid part of the request."""

    loc: list[str | int] = Field(description="where: path, query, header or body, then the field")
    msg: str


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    type: str = Field(description="a URI naming the kind of problem, e.g. urn:movrec:problem:unknown-item")
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong, in one line (the CLI's message)")
    instance: str = Field(description="the request's path")
    errors: list[FieldError] | None = Field(None, description="invalid parameters (422 from validation)")
    checks: dict[str, str] | None = Field(None, description="every readiness check's outcome (503 from /readyz)")


KINDS: dict[str, tuple[int, str]] = {  # slug -> (status, title)
    "unknown-item": (404, "Unknown item"),
    "invalid-parameter": (422, "Invalid parameter"),
    "not-materialized": (503, "Not materialized yet"),
    "unavailable": (503, "Database unavailable"),
    "timeout": (503, "Request took too long"),
    "database-error": (500, "Database error"),
    "internal-error": (500, "Internal error"),
    "unauthorized": (401, "API key required"),
    "payload-too-large": (413, "Request body too large"),
    "not-ready": (503, "Not ready"),
}


class ProblemError(Exception):
    """Raise to answer with a problem of kind ``slug`` (see :data:`KINDS`)."""

    def __init__(self, slug: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.slug, self.detail, self.headers = slug, detail, headers or {}


def body(status: int, detail: str, instance: str, *, slug: str | None = None,
         errors: list[dict[str, Any]] | None = None, checks: dict[str, str] | None = None) -> bytes:
    title = KINDS[slug][1] if slug else HTTPStatus(status).phrase
    data: dict[str, Any] = {"type": TYPE_PREFIX + slug if slug else "about:blank", "title": title, "status": status,
                            "detail": detail, "instance": instance}
    if errors is not None:
        data["errors"] = errors
    if checks is not None:
        data["checks"] = checks
    return orjson.dumps(data)


def response(status: int, detail: str, instance: str, *, slug: str | None = None,
             headers: dict[str, str] | None = None, errors: list[dict[str, Any]] | None = None,
             checks: dict[str, str] | None = None) -> Response:
    return Response(body(status, detail, instance, slug=slug, errors=errors, checks=checks), status_code=status,
                    media_type=MEDIA_TYPE, headers=headers)


def slug_of(exc: QueryError) -> str:
    if isinstance(exc, NotFoundError):
        return "unknown-item"
    if isinstance(exc, NotMaterializedError):
        return "not-materialized"
    if isinstance(exc, UnavailableError):
        return "unavailable"
    if isinstance(exc, DatabaseError):
        return "database-error"
    return "invalid-parameter"


def unreadable_body(cause: BaseException) -> str:
    """Why a body is not JSON where the JSON parser did not say (FastAPI's bare 400), in one line. Malformed JSON is
    a 422 from FastAPI itself; bytes that are not UTF-8 or nesting too deep for the parser are bad input as much."""
    if isinstance(cause, UnicodeDecodeError):
        return f"JSON decode error: not UTF-8 ({cause.reason} at byte {cause.start})"
    if isinstance(cause, RecursionError):
        return "JSON decode error: nested too deeply"
    return f"JSON decode error: {type(cause).__name__}"


def install(app: Any, retry_after_s: int) -> None:
    """Exception handlers answering every error of ``app`` as a problem."""
    retry = {"Retry-After": str(retry_after_s)}

    def of_kind(request: Request, slug: str, detail: str, headers: dict[str, str] | None = None) -> Response:
        status = KINDS[slug][0]
        extra = {**(retry if status == 503 else {}), **(headers or {})}
        return response(status, detail, request.url.path, slug=slug, headers=extra)

    async def query_error(request: Request, exc: QueryError) -> Response:
        slug = slug_of(exc)
        if slug == "database-error":
            log.error("database error on %s: %s", request.url.path, exc)
        return of_kind(request, slug, str(exc))

    async def problem_error(request: Request, exc: ProblemError) -> Response:
        return of_kind(request, exc.slug, exc.detail, exc.headers)

    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                   "msg": str(e.get("msg", ""))} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"][1:]) or (first["loc"][0] if first["loc"] else "request")
        detail = f"{where}: {first['msg']}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        return response(422, detail, request.url.path, slug="invalid-parameter", errors=errors)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 304:  # not an error: no body
            return Response(status_code=304, headers=exc.headers)
        if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI could not read the body as JSON
            msg = unreadable_body(exc.__cause__)
            return response(422, f"body: {msg}", request.url.path, slug="invalid-parameter",
                            errors=[{"loc": ["body"], "msg": msg}])
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return response(exc.status_code, detail, request.url.path, headers=exc.headers)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return response(500, "internal error: see the server's log", request.url.path, slug="internal-error")

    app.add_exception_handler(QueryError, query_error)
    app.add_exception_handler(ProblemError, problem_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def schemas() -> dict[str, Any]:
    """The Problem schema and the ones it uses, for the OpenAPI document's components."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"Problem": {k: v for k, v in schema.items() if k != "$defs"}, **schema.get("$defs", {})}


def declared(*statuses: int, auth: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problems a route can answer (401 when API keys are on)."""
    texts = {401: "missing or wrong API key", 404: "unknown id, title or genre (the detail suggests close matches)",
             413: "request body too large", 422: "invalid parameter", 500: "database error",
             503: "not materialized yet, or the database cannot answer now (see Retry-After)"}
    wanted = sorted({*statuses, 422, 500, 503, *((401,) if auth else ())})
    out: dict[int | str, dict[str, Any]] = {}
    for status in wanted:
        entry: dict[str, Any] = {"description": texts[status],
                                 "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        if status == 503:
            entry["headers"] = {"Retry-After": {"description": "seconds to wait before trying again",
                                                "required": True, "schema": {"type": "integer"}}}
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"description": "Bearer", "required": True,
                                                     "schema": {"type": "string"}}}
        out[status] = entry
    return out
