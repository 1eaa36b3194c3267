"""One embedder per process and configuration, built from :class:`~movrec_pipeline.core.config.EmbeddingSettings`."""

from __future__ import annotations

import hashlib
import os
from dataclasses import astuple

from movrec_pipeline.core.config import EmbeddingSettings
from movrec_pipeline.embedders.base import Embedder

DEFAULT_OPENAI_MODEL = "text-embedding-3-small"
_EMBEDDERS: dict[tuple, Embedder] = {}


def get_embedder(settings: EmbeddingSettings) -> Embedder:
    """The embedder for ``settings`` (cached; a rotated API key gives a new client)."""
    provider = settings.resolved_provider()
    api_key = os.environ.get(settings.api_key_env_var, "")
    key = (provider, *astuple(settings), hashlib.sha256(api_key.encode()).hexdigest())
    if key not in _EMBEDDERS:
        if provider == "local":
            from movrec_pipeline.embedders.local import LocalSentenceTransformerEmbedder

            _EMBEDDERS[key] = LocalSentenceTransformerEmbedder(device=settings.device or None,
                                                               max_chars=settings.max_input_chars)
        else:
            from movrec_pipeline.embedders.openai_compat import OpenAICompatibleEmbedder

            _EMBEDDERS[key] = OpenAICompatibleEmbedder(
                api_key=api_key, model=settings.model or DEFAULT_OPENAI_MODEL, base_url=settings.base_url or None,
                dimensions=settings.dimensions or None, max_batch_items=settings.request_batch_items,
                max_input_chars=settings.max_input_chars, concurrency=settings.concurrency,
                timeout=settings.timeout_seconds, max_retries=settings.max_retries,
            )
    return _EMBEDDERS[key]


def expected_dimensions(settings: EmbeddingSettings) -> int | None:
    """Vector size the settings produce without calling the provider (None when only a call would tell)."""
    if settings.resolved_provider() == "local":
        from movrec_pipeline.embedders.local import DIMENSIONS

        return DIMENSIONS
    from movrec_pipeline.embedders.openai_compat import known_dimensions

    return settings.dimensions or known_dimensions(settings.model or DEFAULT_OPENAI_MODEL)
