"""Local sentence-transformers embedder with the real bundled all-MiniLM-L6-v2 model (offline)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from movrec_pipeline.embedders import local
from movrec_pipeline.embedders.base import Embedder
from movrec_pipeline.embedders.local import LocalSentenceTransformerEmbedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

NETFLIX_CSV = Path("/work/shared/data/netflix_titles.csv")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def descriptions() -> list[str]:
    if not NETFLIX_CSV.exists():
        pytest.skip(f"{NETFLIX_CSV} not available")
    out: list[str] = []
    with NETFLIX_CSV.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["description"].strip():
                out.append(row["description"].strip())
            if len(out) == 40:
                break
    return out


@pytest.fixture(scope="module")
def embedder() -> LocalSentenceTransformerEmbedder:
    return LocalSentenceTransformerEmbedder(batch_size=16)


def test_shape_dtype_and_norms(embedder: LocalSentenceTransformerEmbedder, descriptions: list[str]) -> None:
    assert isinstance(embedder, Embedder)
    assert (embedder.provider, embedder.model, embedder.dimensions) == ("local", "all-MiniLM-L6-v2", 384)
    before = embedder.stats.requests
    vecs = embedder.embed(descriptions)
    assert vecs.shape == (len(descriptions), 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert embedder.stats.requests - before == 3  # ceil(40 / 16) encode batches


def test_order_is_preserved(embedder: LocalSentenceTransformerEmbedder, descriptions: list[str]) -> None:
    texts = [descriptions[0], descriptions[5][:30], descriptions[9]]  # different lengths -> reordered inside
    batch = embedder.embed(texts)
    single = np.stack([embedder.embed([t])[0] for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-4)


def test_near_duplicate_is_closer_than_unrelated(embedder: LocalSentenceTransformerEmbedder,
                                                 descriptions: list[str]) -> None:
    original = descriptions[0]
    edited = original.replace("father", "dad", 1) if "father" in original else original + " Truly."
    unrelated = descriptions[1]
    a, b, c = embedder.embed([original, edited, unrelated])
    assert float(a @ b) > 0.9
    assert float(a @ b) > float(a @ c) + 0.2


def test_model_is_loaded_once(embedder: LocalSentenceTransformerEmbedder) -> None:
    other = LocalSentenceTransformerEmbedder(batch_size=64)
    other.embed(["a second instance"])
    assert other.load() is embedder.load()
    key = (os.path.abspath(local.default_model_path()), None)
    assert key in local._MODEL_CACHE
    assert sum(1 for k in local._MODEL_CACHE if k[0] == key[0]) == 1


def test_truncation_counted_and_empty_input(embedder: LocalSentenceTransformerEmbedder) -> None:
    small = LocalSentenceTransformerEmbedder(max_chars=40)
    vecs = small.embed(["short", "a considerably longer text that certainly exceeds forty characters"])
    assert vecs.shape == (2, 384) and small.stats.truncated == 1
    empty = embedder.embed([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32


def test_importing_does_not_import_torch() -> None:
    code = (
        "import sys, movrec_pipeline.embedders.local, movrec_pipeline.embedders.openai_compat;"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
