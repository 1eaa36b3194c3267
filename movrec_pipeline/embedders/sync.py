"""Incremental embedding of one item kind: plan (what changed), embed in batches, write atomically.

No Dagster here: the assets call :func:`sync_buckets` and turn its :class:`SyncReport` into metadata.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import psycopg

from movrec_pipeline.embedders import texts
from movrec_pipeline.embedders.base import Embedder, validate_vectors
from movrec_pipeline.embedders.isolation import Isolator
from movrec_pipeline.warehouse import sqlfiles

MAX_ATTEMPTS = 3  # a refused item is sent again on later runs until it failed this often with the same text
ITEM_QUERIES = {kind: f"embeddings/items_{kind}" for kind in ("film", "netflix", "movielens")}


@dataclass(frozen=True)
class Item:
    key: str
    bucket: int
    text: str
    hash: str


@dataclass
class BucketCounts:
    """One bucket's figures in one run."""

    items: int = 0
    embedded: int = 0
    unchanged: int = 0
    empty: int = 0
    failed: int = 0
    parked: int = 0


@dataclass
class SyncReport:
    """Counts for one run over some buckets of one item kind (and per bucket)."""

    items: int = 0
    embedded: int = 0
    skipped_unchanged: int = 0
    skipped_empty: int = 0
    failed: int = 0  # refused by the provider in this run (recorded in movrec.embedding_errors)
    parked: int = 0  # refused MAX_ATTEMPTS times already: not sent again until their text changes
    retried: int = 0  # earlier failures sent again in this run
    deleted: int = 0
    truncated: int = 0
    seconds_embedding: float = 0.0
    empty_keys: list[str] = field(default_factory=list)
    failed_keys: list[str] = field(default_factory=list)
    buckets: dict[int, BucketCounts] = field(default_factory=dict)

    @property
    def texts_per_second(self) -> float:
        return self.embedded / self.seconds_embedding if self.seconds_embedding > 0 else 0.0


def load_items(conn: psycopg.Connection, kind: str, template: str, n_buckets: int,
               buckets: Iterable[int], limit: int | None = None) -> tuple[list[Item], list[str]]:
    """Rendered texts of the items of ``kind`` that fall in ``buckets``; also the keys with empty text."""
    wanted = set(buckets)
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(sqlfiles.load(ITEM_QUERIES[kind]))
        rows = cur.fetchall()
    if limit is not None:
        rows = rows[:limit]
    items, empty = [], []
    for row in rows:
        key = row["item_key"]
        bucket = texts.bucket_of(key, n_buckets)
        if bucket not in wanted:
            continue
        text = texts.render(template, row)
        if not text.strip():
            empty.append(key)
            continue
        items.append(Item(key, bucket, text, texts.text_hash(text)))
    return items, empty


def stored_hashes(conn: psycopg.Connection, kind: str, model_id: int, buckets: Sequence[int]) -> dict[str, str]:
    rows = conn.execute(sqlfiles.load("embeddings/stored_hashes"),
                        {"kind": kind, "model_id": model_id, "buckets": list(buckets)}).fetchall()
    return dict(rows)


def write_batch(conn: psycopg.Connection, kind: str, model_id: int, batch: Sequence[Item],
                vectors: np.ndarray, truncated: Sequence[bool]) -> None:
    """Binary COPY into a staging table, then one upsert — both in one transaction."""
    with conn.transaction():
        conn.execute(sqlfiles.load("embeddings/stage"))
        with conn.cursor() as cur:
            with cur.copy(sqlfiles.load("embeddings/stage_copy")) as copy:
                copy.set_types(["text", "int2", "text", "bool", "vector"])
                for item, vec, cut in zip(batch, vectors, truncated, strict=True):
                    copy.write_row((item.key, item.bucket, item.hash, cut, vec))
            cur.execute(sqlfiles.load("embeddings/upsert"), {"kind": kind, "model_id": model_id})


def delete_missing(conn: psycopg.Connection, kind: str, model_id: int, buckets: Sequence[int],
                   present: set[str]) -> int:
    """Remove vectors of items that left the source (within ``buckets``)."""
    stale = [k for k in stored_hashes(conn, kind, model_id, buckets) if k not in present]
    if stale:
        with conn.transaction():
            conn.execute(sqlfiles.load("embeddings/delete_items"),
                         {"kind": kind, "model_id": model_id, "keys": stale})
    return len(stale)


def error_rows(conn: psycopg.Connection, kind: str, model_id: int, buckets: Sequence[int]
               ) -> dict[str, tuple[str, int]]:
    """Recorded failures within ``buckets``: item key -> (text hash, attempts)."""
    rows = conn.execute(sqlfiles.load("embeddings/error_rows"),
                        {"kind": kind, "model_id": model_id, "buckets": list(buckets)}).fetchall()
    return {key: (text_hash, int(attempts)) for key, text_hash, attempts in rows}


def record_failures(conn: psycopg.Connection, kind: str, model_id: int,
                    failures: Sequence[tuple[Item, str, str]]) -> None:
    """Upsert one error row per refused item: attempts + 1 for the same text, a fresh count for a new one."""
    with conn.transaction():
        for item, error_class, message in failures:
            conn.execute(sqlfiles.load("embeddings/record_error"), {
                "kind": kind, "model_id": model_id, "key": item.key, "bucket": item.bucket, "hash": item.hash,
                "error_class": error_class, "message": message})


def clear_failures(conn: psycopg.Connection, kind: str, model_id: int, keys: Sequence[str]) -> None:
    if keys:
        conn.execute(sqlfiles.load("embeddings/clear_errors"), {"kind": kind, "model_id": model_id, "keys": list(keys)})


def plan(items: Sequence[Item], have: dict[str, str], errors: dict[str, tuple[str, int]],
         max_attempts: int) -> tuple[list[Item], list[Item], list[Item]]:
    """(to embed, unchanged, parked): parked items failed ``max_attempts`` times with this very text."""
    todo, unchanged, parked = [], [], []
    for it in items:
        if have.get(it.key) == it.hash:
            unchanged.append(it)
        elif it.key in errors and errors[it.key][0] == it.hash and errors[it.key][1] >= max_attempts:
            parked.append(it)
        else:
            todo.append(it)
    return todo, unchanged, parked


def sync_buckets(conn: psycopg.Connection, embedder: Embedder, *, kind: str, model_id: int, template: str,
                 n_buckets: int, buckets: Sequence[int], batch_size: int = 256, limit: int | None = None,
                 truncate: Callable[[str], tuple[str, bool]] | None = None, max_attempts: int = MAX_ATTEMPTS,
                 log: Callable[[str], None] = lambda _m: None) -> SyncReport:
    """Embed the items of ``buckets`` whose text is new or changed; an unchanged bucket costs no call.

    Items the provider refuses are isolated (the rest of their batch is written), recorded in
    ``movrec.embedding_errors`` and sent again on later runs until they failed ``max_attempts`` times with
    the same text. ``conn`` must be in autocommit mode so that every batch is its own committed transaction.
    """
    if not conn.autocommit:
        raise ValueError("sync_buckets needs an autocommit connection (each batch commits on its own)")
    items, empty = load_items(conn, kind, template, n_buckets, buckets, limit)
    errors = error_rows(conn, kind, model_id, buckets)
    todo, unchanged, parked = plan(items, stored_hashes(conn, kind, model_id, buckets), errors, max_attempts)
    report = SyncReport(items=len(items) + len(empty), skipped_unchanged=len(unchanged), skipped_empty=len(empty),
                        parked=len(parked), retried=sum(it.key in errors for it in todo), empty_keys=empty[:20])
    per = report.buckets
    for b in buckets:
        per[b] = BucketCounts()
    for group, name in ((items, "items"), (unchanged, "unchanged"), (parked, "parked")):
        for it in group:
            setattr(per[it.bucket], name, getattr(per[it.bucket], name) + 1)
    for key in empty:
        counts = per[texts.bucket_of(key, n_buckets)]
        counts.items += 1
        counts.empty += 1
    if limit is None:  # a slice (limit) must not delete the vectors of the items beyond it
        report.deleted = delete_missing(conn, kind, model_id, buckets, {it.key for it in items})
    isolator = Isolator(embedder)
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        prepared = [truncate(it.text) if truncate else (it.text, False) for it in batch]
        t0 = time.perf_counter()
        result = isolator.embed([t for t, _ in prepared], [it.key in errors for it in batch])
        report.seconds_embedding += time.perf_counter() - t0
        done = sorted(result.vectors)
        if done:
            vectors = np.vstack([result.vectors[i] for i in done])
            validate_vectors(vectors, [batch[i].key for i in done], embedder.dimensions)
            write_batch(conn, kind, model_id, [batch[i] for i in done], vectors, [prepared[i][1] for i in done])
            clear_failures(conn, kind, model_id, [batch[i].key for i in done if batch[i].key in errors])
        failures = [(batch[i], *result.refused[i]) for i in sorted(result.refused)]
        record_failures(conn, kind, model_id, failures)
        for i in done:
            per[batch[i].bucket].embedded += 1
        for item, _cls, message in failures:
            per[item.bucket].failed += 1
            report.failed_keys.append(item.key)
            log(f"{kind}: item {item.key} refused, recorded in movrec.embedding_errors: {message}")
        report.embedded += len(done)
        report.failed += len(failures)
        report.truncated += sum(prepared[i][1] for i in done)
        log(f"{kind}: embedded {report.embedded}/{len(todo)}")
    return report


def replace_all_vectors(conn: psycopg.Connection, kind: str, model_id: int, keys: Sequence[str],
                        vectors: np.ndarray, source_hash: str, n_buckets: int) -> int:
    """Replace every vector of (kind, model) with ``vectors`` in one transaction (derived models, e.g. SVD)."""
    items = [Item(k, texts.bucket_of(k, n_buckets), "", source_hash) for k in keys]
    with conn.transaction():
        conn.execute(sqlfiles.load("embeddings/delete_model"), {"kind": kind, "model_id": model_id})
        write_batch(conn, kind, model_id, items, vectors, [False] * len(items))
    return len(items)
