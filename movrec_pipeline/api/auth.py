"""API keys: ``Authorization: Bearer <key>`` checked against SHA-256 digests from the environment.

The environment holds digests only (``MOVREC_API_KEY_HASHES=sha256:<hex>,…``; ``movrec api-key`` makes a key and
its digest), so a leaked environment does not leak a key. Keys are required as soon as the API binds to anything
but a loopback address; on loopback without keys every caller is let in (a developer's machine).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from movrec_pipeline.api.problems import ProblemError
from movrec_pipeline.core.errors import MovrecError

PREFIX = "sha256:"
scheme = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer <key>`")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``; anything else (0.0.0.0, ::, a LAN address, a name) is not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def digest(key: str) -> str:
    return PREFIX + hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh random key and its digest (the digest goes into MOVREC_API_KEY_HASHES)."""
    key = "mrk_" + secrets.token_urlsafe(32)
    return key, digest(key)


def parse_hashes(text: str) -> tuple[str, ...]:
    """``sha256:<64 hex>`` digests (comma-separated); a malformed one is a one-line error naming the variable."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        hexpart = part.removeprefix(PREFIX).lower()
        if len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
            raise MovrecError("MOVREC_API_KEY_HASHES: expected comma-separated sha256:<64 hex digits> "
                              f"(movrec api-key makes one), got {part[:12]!r}…")
        out.append(PREFIX + hexpart)
    return tuple(out)


def check_binding(host: str, hashes: tuple[str, ...]) -> None:
    """Refuse to listen off loopback without keys."""
    if not hashes and not is_loopback(host):
        raise MovrecError(f"the API would listen on {host} without API keys: set MOVREC_API_KEY_HASHES "
                          "(movrec api-key makes a key and its digest), or bind to 127.0.0.1")


def key_check(hashes: tuple[str, ...]) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency (declared as the ``HTTPBearer`` security scheme): 401 unless the bearer token's digest
    is one of ``hashes``."""
    challenge = {"WWW-Authenticate": 'Bearer realm="movrec"'}

    async def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Security(scheme)]) -> None:
        if credentials is None:
            raise ProblemError("unauthorized", "an API key is required: send Authorization: Bearer <key>", challenge)
        offered = digest(credentials.credentials)
        if not any(hmac.compare_digest(offered, known) for known in hashes):
            raise ProblemError("unauthorized", "the API key is not valid", challenge)

    return check
