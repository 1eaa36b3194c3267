"""Our one-line errors as Dagster failures: only transient ones may be retried by a RetryPolicy."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from movrec_pipeline.core.errors import MovrecError, TransientEmbeddingError


@contextmanager
def movrec_errors_as_failures() -> Iterator[None]:
    """Turn a :class:`MovrecError` into ``dg.Failure`` (retryable only when transient), without a traceback."""
    try:
        yield
    except TransientEmbeddingError as exc:
        raise dg.Failure(str(exc), allow_retries=True) from None
    except MovrecError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
