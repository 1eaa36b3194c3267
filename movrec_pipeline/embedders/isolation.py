"""Embed a batch, isolating the items a provider refuses: one bad item never fails the others (no Dagster).

When a call fails with :class:`ItemRejectedError` the batch is split — at the refused item when the error
names it, in halves otherwise — until every refused item stands alone. Before the first item of a sync is
embedded, a failing batch is probed first: three items from its start, middle and end, each alone. If all
three are new (not refused before) and refused, the provider refuses everything — a bad setting, not a bad
item — and the error is raised as it is, after four calls instead of a bisection of the catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from movrec_pipeline.core.errors import ItemRejectedError
from movrec_pipeline.embedders.base import Embedder


@dataclass
class Isolated:
    """Per position of the batch: a vector, or why it was refused (error class, one-line message)."""

    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    refused: dict[int, tuple[str, str]] = field(default_factory=dict)
    calls: int = 0


@dataclass
class Isolator:
    """Embeds the batches of one sync; remembers whether anything was embedded yet (for the probe)."""

    embedder: Embedder
    embedded_so_far: int = 0
    probed: bool = False
    _retried: list[bool] = field(default_factory=list)

    def embed(self, texts: Sequence[str], retried: Sequence[bool] | None = None) -> Isolated:
        """Vectors and refusals for ``texts``; ``retried[i]`` marks an item refused in an earlier run."""
        out = Isolated()
        self._retried = list(retried) if retried is not None else [False] * len(texts)
        self._embed(list(texts), list(range(len(texts))), out)
        return out

    def _call(self, texts: list[str], positions: list[int], out: Isolated) -> ItemRejectedError | None:
        """One provider call; the vectors are kept, a refusal is returned."""
        out.calls += 1
        try:
            vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
        except ItemRejectedError as exc:
            return exc
        for pos, vec in zip(positions, vectors, strict=True):
            out.vectors[pos] = vec
        self.embedded_so_far += len(texts)
        return None

    def _embed(self, texts: list[str], positions: list[int], out: Isolated) -> None:
        if not texts:
            return
        exc = self._call(texts, positions, out)
        if exc is None:
            return
        if len(texts) == 1:
            self._refuse(positions[0], exc, out)
            return
        if self.embedded_so_far == 0 and not self.probed:
            self._probe(texts, positions, exc, out)
            return
        start, stop = exc.span if exc.span else (0, len(texts))
        if stop - start == 1 and 0 <= start < len(texts):  # the error names the item
            self._refuse(positions[start], exc, out)
            rest = [i for i in range(len(texts)) if i != start]
            self._embed([texts[i] for i in rest], [positions[i] for i in rest], out)
        elif 0 <= start < stop <= len(texts) and stop - start < len(texts):  # look inside the span, and around it
            for lo, hi in ((0, start), (start, stop), (stop, len(texts))):
                self._embed(texts[lo:hi], positions[lo:hi], out)
        else:  # no usable span: halves
            half = len(texts) // 2
            self._embed(texts[:half], positions[:half], out)
            self._embed(texts[half:], positions[half:], out)

    def _probe(self, texts: list[str], positions: list[int], exc: ItemRejectedError, out: Isolated) -> None:
        self.probed = True
        probes = sorted({0, len(texts) // 2, len(texts) - 1})
        refusals = [(i, self._call([texts[i]], [positions[i]], out)) for i in probes]
        refused = [(i, e) for i, e in refusals if e is not None]
        if len(refused) == len(probes) and not any(self._retried[positions[i]] for i, _ in refused):
            raise exc  # new items from all over the batch, each refused alone: the provider refuses everything
        for i, e in refused:
            self._refuse(positions[i], e, out)
        rest = [i for i in range(len(texts)) if i not in probes]
        self._embed([texts[i] for i in rest], [positions[i] for i in rest], out)

    @staticmethod
    def _refuse(position: int, exc: ItemRejectedError, out: Isolated) -> None:
        out.refused[position] = (type(exc).__name__, " ".join(str(exc).split())[:500])
