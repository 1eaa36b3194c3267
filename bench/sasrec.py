"""SASRec (Kang & McAuley 2018) trained with full cross-entropy (Klenitskiy & Vasilev 2023), CPU, fixed seed.

The usual sequential anchor on temporal splits: a causal transformer over a user's last ``max_len`` items,
predicting the next item at every position with a softmax over the whole catalogue (tied item embeddings).
Used by bench/evaluate_movielens.py only (minutes of CPU; not a pipeline asset). Scoring a user reads the
user's own sequence, so fold-in (held-out users) needs no refit.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from movrec_pipeline.ranking.interactions import InteractionData


def sequences(data: InteractionData) -> list[np.ndarray]:
    """Each user's item columns in time order (ties by item id, as the T80 split orders them), 1-based."""
    out = []
    t = data.times if data.times is not None else data.matrix
    for u in range(data.n_users):
        lo, hi = t.indptr[u], t.indptr[u + 1]
        cols, times = t.indices[lo:hi], t.data[lo:hi]
        out.append(cols[np.lexsort((cols, times))].astype(np.int64) + 1)
    return out


class _Net(nn.Module):
    def __init__(self, n_items: int, dim: int, blocks: int, heads: int, max_len: int, dropout: float) -> None:
        super().__init__()
        self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.positions = nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 4, dropout, batch_first=True, norm_first=True,
                                           activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        mask = torch.triu(torch.full((max_len, max_len), float("-inf")), diagonal=1)
        self.register_buffer("causal", mask)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        n = seq.shape[1]
        h = self.items(seq) * (self.items.embedding_dim ** 0.5) + self.positions.weight[:n]
        h = self.encoder(self.dropout(h), mask=self.causal[:n, :n], src_key_padding_mask=seq == 0, is_causal=True)
        return self.norm(h)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.items.weight.T


class SASRecRecommender:
    """``fit`` trains on the users' training sequences; ``epochs`` fixed (tune it on a validation split)."""

    def __init__(self, dim: int = 64, blocks: int = 2, heads: int = 1, max_len: int = 200, dropout: float = 0.2,
                 epochs: int = 60, batch: int = 16, lr: float = 1e-3, seed: int = 0, name: str = "sasrec_ce"):
        self.dim, self.blocks, self.heads, self.max_len, self.dropout = dim, blocks, heads, max_len, dropout
        self.epochs, self.batch, self.lr, self.seed, self.name = epochs, batch, lr, seed, name
        self.epoch_seconds: list[float] = []

    def _padded(self, seqs: list[np.ndarray], length: int) -> torch.Tensor:
        out = np.zeros((len(seqs), length), np.int64)
        for i, s in enumerate(seqs):
            s = s[-length:]
            if len(s):
                out[i, -len(s):] = s  # left padding: the last position is the newest item
        return torch.from_numpy(out)

    def fit(self, data: InteractionData, item_text_vectors: np.ndarray | None = None,
            on_epoch=None) -> SASRecRecommender:
        torch.manual_seed(self.seed)
        torch.set_num_threads(max(1, torch.get_num_threads()))
        rng = np.random.default_rng(self.seed)
        self.n_items_ = data.n_items
        self.net_ = _Net(data.n_items, self.dim, self.blocks, self.heads, self.max_len, self.dropout)
        seqs = [s for s in sequences(data) if len(s) >= 2]
        padded = self._padded(seqs, self.max_len + 1)  # inputs [:-1], targets [1:]
        optimiser = torch.optim.Adam(self.net_.parameters(), lr=self.lr, betas=(0.9, 0.98))
        loss_fn = nn.CrossEntropyLoss(ignore_index=0)
        self.fit_data_ = data
        for epoch in range(self.epochs):
            started = time.perf_counter()
            self.net_.train()
            order = rng.permutation(len(seqs))
            for lo in range(0, len(seqs), self.batch):
                batch = padded[order[lo:lo + self.batch]]
                inputs, targets = batch[:, :-1], batch[:, 1:]
                real = targets != 0  # the catalogue softmax only where there is a next item (no padding)
                logits = self.net_.logits(self.net_(inputs)[real])
                loss = loss_fn(logits, targets[real])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            self.epoch_seconds.append(time.perf_counter() - started)
            if on_epoch is not None:
                on_epoch(epoch + 1, self)
        return self

    @torch.no_grad()
    def scores_for(self, data: InteractionData, user_rows: np.ndarray) -> np.ndarray:
        self.net_.eval()
        if getattr(self, "_seq_cache", (None,))[0] is not data:
            self._seq_cache = (data, sequences(data))
        seqs = [self._seq_cache[1][r] for r in np.asarray(user_rows)]
        out = np.empty((len(seqs), self.n_items_), np.float32)
        for lo in range(0, len(seqs), 256):
            inputs = self._padded(seqs[lo:lo + 256], self.max_len)
            h = self.net_(inputs)[:, -1]
            out[lo:lo + 256] = self.net_.logits(h)[:, 1:].numpy()
        return out

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return self.scores_for(self.fit_data_, user_rows)

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]:
        return []
