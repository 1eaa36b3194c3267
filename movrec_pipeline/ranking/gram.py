"""The item co-occurrence (Gram) matrix ``X'X`` of a sparse users x items matrix, in user blocks (no Dagster).

A dense ``X'X`` costs users x items² multiply-adds; the sparse product costs only sum over users of
(items rated)², and accumulating block by block keeps the sparse intermediate small. The result is dense
(items x items float32): callers bound the items (the EASE head).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def cooccurrence(x: sp.csr_matrix, block_nnz: int = 4_000_000) -> np.ndarray:
    """``x.T @ x`` as a dense float32 array, computed over blocks of users holding ~``block_nnz`` entries."""
    n_items = x.shape[1]
    out = np.zeros((n_items, n_items), np.float32)
    x = x.tocsr().astype(np.float32)
    nnz_before = x.indptr
    start = 0
    while start < x.shape[0]:
        stop = int(np.searchsorted(nnz_before, nnz_before[start] + block_nnz, side="right"))
        stop = max(stop - 1, start + 1)
        block = x[start:stop]
        product = (block.T @ block).tocoo()
        out[product.row, product.col] += product.data
        start = stop
    return out
