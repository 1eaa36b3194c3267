"""Errors of the query commands: one line for a person, turned into exit code 2 by ``movrec``.

The subclasses say what kind of failure it is, so the HTTP API can answer with the right status (404, 503, 500)
while carrying the very same one-line message; a plain :class:`QueryError` is a bad parameter (422).
"""

from __future__ import annotations

from movrec_pipeline.core.errors import MovrecError


class QueryError(MovrecError):
    """Bad input (k out of range, empty search text, options that cancel out …) or a failure while reading."""


class NotFoundError(QueryError):
    """An unknown customer, user, movie, show, title or genre (the message suggests close matches)."""


class NotMaterializedError(QueryError):
    """What the query reads has not been materialized yet; the message names the asset to run."""


class UnavailableError(QueryError):
    """The database cannot answer now: unreachable, no pooled connection free, a statement timed out."""


class DatabaseError(QueryError):
    """Any other database error while reading (a fault on our side, never bad input)."""
