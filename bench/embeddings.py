"""Embedding benchmarks, each a ratio measured side by side in one run (issue: embeddings).

1. local embedding path (render → encode → validate → binary COPY + upsert) vs raw
   SentenceTransformer.encode on the same texts (goal ≥ 0.9×);
2. OpenAI-compatible path vs the pgvector lab's loop (sequential batches of 30, one request in flight,
   hand-written doubling backoff) against the local fake server with 200 ms latency and 10 % 429s
   (goal ≥ 20× faster, 0 items lost);
3. binary COPY + upsert vs per-row ``UPDATE … SET embedding`` (the pgvector lab) for the same vectors (goal ≥ 20×).

Usage: MOVREC_DATA_DIR=../shared/data .venv/bin/python bench/embeddings.py [--local-texts 600]
Runs on a throw-away embedded PostgreSQL under a temporary MOVREC_HOME.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def bench_local(conn, n: int) -> None:
    from movrec_pipeline.embedders import sync, texts
    from movrec_pipeline.embedders.local import LocalSentenceTransformerEmbedder, default_model_path, load_model
    from movrec_pipeline.warehouse import embedding_models as registry

    items, _ = sync.load_items(conn, "netflix", texts.DEFAULT_TEMPLATES["netflix"], 32, range(32), n)
    batch = [it.text for it in items]
    emb = LocalSentenceTransformerEmbedder()
    emb.embed(batch[:8])  # load + warm up
    raw_model = load_model(default_model_path(), None)  # the same cached SentenceTransformer
    t = time.perf_counter()
    raw_model.encode(batch, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    raw_s = time.perf_counter() - t
    mid = registry.register_model(conn, "local", "all-MiniLM-L6-v2", 384, "bench")
    t = time.perf_counter()
    report = sync.sync_buckets(conn, emb, kind="netflix", model_id=mid,
                                         template=texts.DEFAULT_TEMPLATES["netflix"], n_buckets=32,
                                         buckets=range(32), limit=n)
    ours_s = time.perf_counter() - t
    print(f"1. local: raw encode {len(batch)} texts {raw_s:.2f} s ({len(batch) / raw_s:.0f}/s); pipeline path "
          f"{ours_s:.2f} s ({report.embedded / ours_s:.0f}/s incl. DB writes) → ratio {raw_s / ours_s:.2f}×")


def pgvector_lab_loop(client, texts_: list[str], model: str) -> list:
    """The pgvector lab's get_batch_embeddings: batches of 30, one at a time, delay *= 2 on rate limits."""
    import openai

    out = []
    for start in range(0, len(texts_), 30):
        delay = 1.0
        for _attempt in range(8):
            try:
                resp = client.embeddings.create(input=texts_[start:start + 30], model=model)
                out.extend(d.embedding for d in resp.data)
                break
            except (openai.RateLimitError, openai.InternalServerError):
                time.sleep(delay)
                delay *= 2
    return out


def bench_openai(all_texts: list[str]) -> None:
    import openai

    from movrec_pipeline.embedders.openai_compat import OpenAICompatibleEmbedder
    from movrec_pipeline_tests.fake_openai import FakeOpenAIServer

    with FakeOpenAIServer(dim=256, latency_s=0.2, fail_rate_429=0.10, retry_after=0.2, seed=7) as srv:
        client = openai.OpenAI(api_key="sk-bench", base_url=srv.base_url, max_retries=0)
        t = time.perf_counter()
        got = pgvector_lab_loop(client, all_texts, "fake")
        seed_s = time.perf_counter() - t
        seed_requests = srv.stats["requests"]
        srv.reset_stats()
        emb = OpenAICompatibleEmbedder(api_key="sk-bench", model="fake", base_url=srv.base_url, dimensions=256,
                                       max_batch_items=256, concurrency=8)
        t = time.perf_counter()
        vecs = emb.embed(all_texts)
        ours_s = time.perf_counter() - t
        ok = np.allclose(vecs, srv.expected(all_texts, 256), atol=1e-6)
    print(f"2. openai-compatible ({len(all_texts)} texts, 200 ms latency, 10 % 429): seed loop {seed_s:.1f} s "
          f"({seed_requests} requests, {len(got)} vectors); ours {ours_s:.2f} s ({emb.stats.requests} requests, "
          f"{emb.stats.retries} retries, {len(vecs)} vectors, exact={ok}) → {seed_s / ours_s:.1f}× faster, "
          f"items lost: {len(all_texts) - len(vecs)}")


def bench_writes(conn, n_dims: int = 384) -> None:
    from movrec_pipeline.embedders import sync
    from movrec_pipeline.warehouse import embedding_models as registry

    keys = [r[0] for r in conn.execute("SELECT show_id FROM netflix.shows ORDER BY show_id").fetchall()]
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((len(keys), n_dims)).astype(np.float32)
    items = [sync.Item(k, 0, "", "h") for k in keys]
    mid = registry.register_model(conn, "bench", "random", n_dims, "writes")
    t = time.perf_counter()
    for start in range(0, len(items), 256):
        sync.write_batch(conn, "netflix", mid, items[start:start + 256], vecs[start:start + 256],
                                   [False] * len(items[start:start + 256]))
    copy_s = time.perf_counter() - t
    conn.execute(f"ALTER TABLE netflix.shows ADD COLUMN IF NOT EXISTS bench_embedding vector({n_dims})")
    t = time.perf_counter()
    for start in range(0, len(keys), 30):  # the pgvector lab: UPDATE per row, commit per batch of 30
        with conn.transaction():
            for key, vec in zip(keys[start:start + 30], vecs[start:start + 30], strict=True):
                conn.execute("UPDATE netflix.shows SET bench_embedding = %s WHERE show_id = %s", (vec, key))
    update_s = time.perf_counter() - t
    conn.execute("ALTER TABLE netflix.shows DROP COLUMN bench_embedding")
    print(f"3. writes of {len(keys)} × {n_dims}-d vectors: binary COPY + upsert {copy_s:.2f} s; per-row UPDATE "
          f"{update_s:.2f} s → {update_s / copy_s:.1f}× faster")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--local-texts", type=int, default=600)
    parser.add_argument("--openai-texts", type=int, default=2000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="movrec-bench-"))
    home.chmod(0o755)
    os.environ["MOVREC_HOME"] = str(home)
    from movrec_pipeline.core import paths
    from movrec_pipeline.embedders.texts import DEFAULT_TEMPLATES, render
    from movrec_pipeline.ingest import files
    from movrec_pipeline.ingest import netflix_csv as netflix
    from movrec_pipeline.warehouse import connection, embedded, tables

    try:
        url = connection.warehouse_url()
        connection.prepare_warehouse(url)
        parsed = netflix.parse_netflix_csv(paths.data_dir() / files.NETFLIX.relpath)
        with connection.connect(url, autocommit=True) as conn:
            with conn.transaction():
                tables.replace_rows(conn, "netflix", "shows", parsed.shows)
            rows = parsed.shows.rename(columns={"cast_members": "cast", "countries": "country"}).to_dict("records")
            all_texts = [render(DEFAULT_TEMPLATES["netflix"], r) for r in rows][: args.openai_texts]
            bench_local(conn, args.local_texts)
            bench_openai(all_texts)
            bench_writes(conn)
    finally:
        embedded.stop_server(home / "pgdata")
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
