"""Errors of the query commands: one line for a person, turned into exit code 2 by ``movrec``."""

from __future__ import annotations

from movrec_pipeline.core.errors import MovrecError


class QueryError(MovrecError):
    """Bad input (unknown customer, title, k out of range …) or a database error while reading."""


class NotMaterializedError(QueryError):
    """What the query reads has not been materialized yet; the message names the asset to run."""
