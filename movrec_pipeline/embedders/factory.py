"""One embedder per process and configuration, built from :class:`~movrec_pipeline.core.settings.EmbeddingSettings`."""

from __future__ import annotations

import hashlib

from movrec_pipeline.core.settings import EmbeddingSettings
from movrec_pipeline.embedders.base import Embedder

DEFAULT_OPENAI_MODEL = "text-embedding-3-small"
_EMBEDDERS: dict[tuple, Embedder] = {}


def get_embedder(settings: EmbeddingSettings, api_key: str = "") -> Embedder:
    """The embedder for ``settings`` and ``api_key`` (cached; a rotated API key gives a new client)."""
    provider = settings.resolved_provider(bool(api_key))
    key = (provider, settings, hashlib.sha256(api_key.encode()).hexdigest())
    if key not in _EMBEDDERS:
        if provider == "local":
            from movrec_pipeline.embedders.local import LocalSentenceTransformerEmbedder

            _EMBEDDERS[key] = LocalSentenceTransformerEmbedder(model=settings.model, device=settings.device or None,
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


def expected_dimensions(settings: EmbeddingSettings, api_key: str = "") -> int | None:
    """Vector size the settings produce without calling a provider (None when only a call would tell)."""
    if settings.resolved_provider(bool(api_key)) == "local":
        return get_embedder(settings, api_key).dimensions
    from movrec_pipeline.embedders.openai_compat import known_dimensions

    return settings.dimensions or known_dimensions(settings.model or DEFAULT_OPENAI_MODEL)
