"""How completely the active model covers some buckets of one item kind (no Dagster).

Used by the embedding assets' partition-scoped checks (the buckets a run materialized) and by the index
assets' catalogue checks (every bucket): refused items count against the threshold, so a flood of failures
still blocks what reads the vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from movrec_pipeline.embedders import sync, texts
from movrec_pipeline.warehouse import sqlfiles


@dataclass(frozen=True)
class Coverage:
    items: int
    covered: int
    refused: int  # recorded in movrec.embedding_errors for their current text
    missing: list[str]  # neither a vector for the current text nor a recorded failure
    empty_text: int
    wrong_dimensions: int
    zero_or_nan: int

    @property
    def fraction(self) -> float:
        return self.covered / self.items if self.items else 1.0

    def passes(self, threshold: float) -> bool:
        return self.fraction >= threshold and not self.missing and not self.wrong_dimensions and not self.zero_or_nan

    def metadata(self) -> dict[str, object]:
        return {"coverage_pct": round(100 * self.fraction, 2), "items": self.items, "covered": self.covered,
                "refused": self.refused, "missing_or_stale": len(self.missing), "empty_text": self.empty_text,
                "wrong_dimensions": self.wrong_dimensions, "zero_or_nan": self.zero_or_nan,
                "examples": ", ".join(self.missing[:10]) or "-"}


def measure(conn: psycopg.Connection, kind: str, model_id: int, dims: int, n_buckets: int, buckets: Sequence[int],
            limit: int | None = None) -> Coverage:
    items, empty = sync.load_items(conn, kind, texts.DEFAULT_TEMPLATES[kind], n_buckets, buckets, limit)
    stored = sync.stored_hashes(conn, kind, model_id, buckets)
    errors = sync.error_rows(conn, kind, model_id, buckets)
    covered = [it for it in items if stored.get(it.key) == it.hash]
    refused = [it for it in items if stored.get(it.key) != it.hash and errors.get(it.key, ("",))[0] == it.hash]
    done = {it.key for it in covered} | {it.key for it in refused}
    wrong_dims, bad_norm = conn.execute(sqlfiles.load("embeddings/malformed_vectors"), {
        "dims": dims, "kind": kind, "model_id": model_id, "buckets": list(buckets)}).fetchone()
    return Coverage(items=len(items), covered=len(covered), refused=len(refused),
                    missing=[it.key for it in items if it.key not in done], empty_text=len(empty),
                    wrong_dimensions=int(wrong_dims), zero_or_nan=int(bad_norm))
