"""Types shared by the embedding providers: stats, the Embedder protocol, vector checks, truncation."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from movrec_pipeline.core.errors import ItemRejectedError, PermanentEmbeddingError

_STATS_LOCK = threading.Lock()  # module-level so EmbedStats stays a plain, copyable, asdict-able dataclass


@dataclass
class EmbedStats:
    """Cumulative counters of one embedder instance; use `add` for thread-safe increments."""

    requests: int = 0  # HTTP requests actually sent (incl. retries) / encode batches for local
    retries: int = 0  # requests that were retries
    tokens: int | None = None  # usage.total_tokens summed when the provider reports it
    truncated: int = 0  # inputs cut to the size budget

    def add(
        self, *, requests: int = 0, retries: int = 0, tokens: int | None = None, truncated: int = 0
    ) -> None:
        """Atomically add to the counters (`tokens=None` leaves the token count untouched)."""
        with _STATS_LOCK:
            self.requests += requests
            self.retries += retries
            self.truncated += truncated
            if tokens is not None:
                self.tokens = (self.tokens or 0) + tokens

    def snapshot(self) -> EmbedStats:
        """A consistent copy of the counters."""
        with _STATS_LOCK:
            return EmbedStats(self.requests, self.retries, self.tokens, self.truncated)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32 vectors, row i for texts[i]."""

    provider: str  # "local" | "openai"
    model: str  # model name as registered
    dimensions: int
    stats: EmbedStats

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def validate_vectors(vectors: np.ndarray, keys: Sequence[str], dimensions: int, offset: int = 0) -> None:
    """Raise naming the first bad item: wrong shape (PermanentEmbeddingError, the whole call is unusable) or
    NaN/Inf or zero norm (ItemRejectedError with the item's position ``offset + i``: only that item is bad)."""
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2:
        shape = getattr(vectors, "shape", None)
        raise PermanentEmbeddingError(
            f"embedding provider returned an array of shape {shape}, expected ({len(keys)}, {dimensions}):"
            " check the embedding model configuration"
        )
    if vectors.shape[0] != len(keys):
        raise PermanentEmbeddingError(
            f"embedding provider returned {vectors.shape[0]} vectors for {len(keys)} items:"
            " check the provider is OpenAI-compatible and the model is an embedding model"
        )
    if vectors.shape[1] != dimensions:
        first = keys[0] if keys else "?"
        raise PermanentEmbeddingError(
            f"item {first}: embedding has {vectors.shape[1]} dimensions, expected {dimensions}:"
            " set the configured dimensions to match the model"
        )
    if len(keys) == 0:
        return
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        i = int(np.argmin(finite))
        raise ItemRejectedError(
            f"item {keys[i]}: embedding contains NaN or Inf: the provider returned a broken vector,"
            " check the model/server and retry", span=(offset + i, offset + i + 1)
        )
    norms = np.linalg.norm(vectors.astype(np.float64, copy=False), axis=1)
    zero = norms <= 1e-12
    if zero.any():
        i = int(np.argmax(zero))
        raise ItemRejectedError(
            f"item {keys[i]}: embedding is all zeros: the provider returned a broken vector,"
            " check the model/server and the input text", span=(offset + i, offset + i + 1)
        )


def truncate_text(text: str, max_chars: int) -> tuple[str, bool]:
    """Cut `text` to at most `max_chars` chars, at a word boundary when one is near; return (text, cut?)."""
    if max_chars <= 0:
        raise ValueError("max_chars must be positive")
    if len(text) <= max_chars:
        return text, False
    head = text[: max_chars + 1]  # one extra char tells whether the cut falls on a boundary
    cut = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
    if cut < max_chars * 0.8:  # no whitespace near the end (e.g. one huge token): hard cut
        cut = max_chars
    return text[:cut].rstrip(), True
