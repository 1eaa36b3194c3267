"""Embed a batch, isolating the items a provider refuses: one bad item never fails the others (no Dagster).

When a call fails with :class:`ItemRejectedError` the batch is split — at the refused item when the error
names it, in halves otherwise — until every refused item stands alone. If the first items tried alone are all
refused and nothing has been embedded yet, the provider refuses everything (a bad setting, not a bad item)
and the error is raised as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from movrec_pipeline.core.errors import ItemRejectedError
from movrec_pipeline.embedders.base import Embedder

PROVIDER_WIDE_AFTER = 3  # refused items in a row, with nothing embedded yet, that mean "the provider refuses all"


@dataclass
class Isolated:
    """Per position of the batch: a vector, or why it was refused (error class, one-line message)."""

    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    refused: dict[int, tuple[str, str]] = field(default_factory=dict)
    calls: int = 0


@dataclass
class Isolator:
    """Keeps, across the batches of one sync, whether anything was embedded (for the provider-wide rule)."""

    embedder: Embedder
    embedded_so_far: int = 0
    refused_in_a_row: int = 0

    def embed(self, texts: Sequence[str]) -> Isolated:
        out = Isolated()
        self._embed(list(texts), list(range(len(texts))), out)
        return out

    def _embed(self, texts: list[str], positions: list[int], out: Isolated) -> None:
        if not texts:
            return
        out.calls += 1
        try:
            vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
        except ItemRejectedError as exc:
            if len(texts) == 1:
                self._refuse(positions[0], exc, out)
                return
            start, stop = exc.span if exc.span else (0, len(texts))
            if stop - start == 1 and 0 <= start < len(texts):  # the error names the item
                self._refuse(positions[start], exc, out)
                rest = [i for i in range(len(texts)) if i != start]
                self._embed([texts[i] for i in rest], [positions[i] for i in rest], out)
                return
            if not (0 <= start < stop <= len(texts)) or stop - start == len(texts):
                start, stop = 0, len(texts) // 2  # no usable span: halves
                self._embed(texts[:stop], positions[:stop], out)
                self._embed(texts[stop:], positions[stop:], out)
                return
            # the span holds a refused item: look inside it, and embed the rest around it
            for lo, hi in ((0, start), (start, stop), (stop, len(texts))):
                self._embed(texts[lo:hi], positions[lo:hi], out)
            return
        for pos, vec in zip(positions, vectors, strict=True):
            out.vectors[pos] = vec
        self.embedded_so_far += len(texts)
        self.refused_in_a_row = 0

    def _refuse(self, position: int, exc: ItemRejectedError, out: Isolated) -> None:
        self.refused_in_a_row += 1
        if self.embedded_so_far == 0 and self.refused_in_a_row >= PROVIDER_WIDE_AFTER:
            raise exc  # every item tried alone was refused: a setting, not an item
        message = " ".join(str(exc).split())[:500]
        out.refused[position] = (type(exc).__name__, message)
