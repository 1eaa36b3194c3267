"""Embedding-provider settings, parsed once from ``MOVREC_EMBEDDING_*`` (the API key stays in the environment).

Both the Dagster resource (:mod:`movrec_pipeline.defs.resources`) and the read side
(:mod:`movrec_pipeline.query`) build their embedder from :func:`embedding_settings`, so a query embeds
with exactly the model the pipeline wrote.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from movrec_pipeline.core.errors import MovrecError

PROVIDERS = ("local", "openai", "auto")


@dataclass(frozen=True)
class EmbeddingSettings:
    """Which provider and model embed texts, and how requests are sized (none of it secret)."""

    provider: str = "auto"  # local | openai | auto (= openai when the API key variable is set)
    model: str = ""  # "" = provider default: all-MiniLM-L6-v2 / text-embedding-3-small
    base_url: str = ""  # e.g. http://localhost:11434/v1 (Ollama), https://openrouter.ai/api/v1
    dimensions: int = 0  # 0 = the model's native size
    api_key_env_var: str = "OPENAI_API_KEY"
    template_version: str = "v1"  # bump to keep the old vectors beside new ones after a template change
    request_batch_items: int = 128
    max_input_chars: int = 8000
    concurrency: int = 4
    timeout_seconds: float = 60.0
    max_retries: int = 6
    device: str = ""  # "" = cuda if available else cpu
    item_limit: int = 0  # >0: embed only the first N items of each source (demos, end-to-end tests)

    def resolved_provider(self) -> str:
        """``local`` or ``openai``; ``auto`` means openai exactly when the API key variable is set."""
        if self.provider not in PROVIDERS:
            raise MovrecError(f"unknown embedding provider {self.provider!r}: use local, openai or auto")
        if self.provider != "auto":
            return self.provider
        return "openai" if os.environ.get(self.api_key_env_var) else "local"


def _int(name: str, default: str = "0") -> int:
    raw = os.environ.get(name, default).strip() or default
    try:
        return int(raw)
    except ValueError:
        raise MovrecError(f"{name} must be a whole number, got {raw!r}") from None


def embedding_settings() -> EmbeddingSettings:
    """The settings the environment asks for: ``MOVREC_EMBEDDING_{PROVIDER,MODEL,BASE_URL,DIMENSIONS}``
    and ``MOVREC_ITEM_LIMIT``."""
    env = os.environ.get
    return EmbeddingSettings(
        provider=env("MOVREC_EMBEDDING_PROVIDER", "auto") or "auto",
        model=env("MOVREC_EMBEDDING_MODEL", ""),
        base_url=env("MOVREC_EMBEDDING_BASE_URL", ""),
        dimensions=_int("MOVREC_EMBEDDING_DIMENSIONS"),
        item_limit=_int("MOVREC_ITEM_LIMIT"),
    )


def api_key_present(settings: EmbeddingSettings) -> bool:
    """Whether the API key variable is set (it decides what ``auto`` means)."""
    return bool(os.environ.get(settings.api_key_env_var))
