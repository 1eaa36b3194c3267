"""Errors that carry a one-line cause and what to do about it."""

from __future__ import annotations


class MovrecError(Exception):
    """Base class: the message is a single line meant for a person."""


class SourceDataError(MovrecError):
    """A source file is missing, unreadable or malformed beyond repair."""


class DatabaseSetupError(MovrecError):
    """The database is unreachable or lacks something the pipeline needs (e.g. pgvector)."""


class PermanentEmbeddingError(MovrecError):
    """The provider rejected the request for good (bad key, unknown model, wrong dimensions)."""


class ItemRejectedError(PermanentEmbeddingError):
    """The provider refused particular inputs (400: too long, content filter …) or returned a broken vector
    (NaN, zeros) for one: the other inputs may be fine. ``span`` = (start, stop) of the inputs containing it."""

    def __init__(self, message: str, span: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.span = span


class TransientEmbeddingError(MovrecError):
    """The provider failed in a way a later retry may fix (429, 5xx, timeout)."""
