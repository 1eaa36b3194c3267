"""Request body limit (413 as a problem): by ``Content-Length`` up front, else by counting what arrives.

The time limit is the database's (``statement_timeout``) and the worker thread's (``Database.run``); the page size
limit is each route's ``limit`` parameter.
"""

from __future__ import annotations

from typing import Any

from movrec_pipeline.api import problems

Scope = dict[str, Any]


class BodyLimitMiddleware:
    """Pure ASGI: a body larger than ``max_bytes`` gets 413 whatever the route would have answered."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        seen = 0
        exceeded = False
        refused = False

        async def receiving() -> dict:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def sending(message: dict) -> None:
            nonlocal refused
            if exceeded:  # whatever the app says about a cut body, the answer is 413
                if not refused:
                    refused = True
                    await self._refuse(scope, send)
                return
            await send(message)

        await self.app(scope, receiving, sending)

    async def _refuse(self, scope: Scope, send: Any) -> None:
        payload = problems.body(413, f"the request body is larger than {self.max_bytes} bytes "
                                "(MOVREC_API_MAX_BODY_BYTES)", scope.get("path", ""), slug="payload-too-large")
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", problems.MEDIA_TYPE.encode()),
                                (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
