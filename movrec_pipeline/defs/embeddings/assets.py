"""Text-embedding assets: one per item kind, partitioned by hash bucket; only new or changed texts are embedded."""

import dagster as dg

from movrec_pipeline.defs.failures import movrec_errors_as_failures
from movrec_pipeline.defs.partitions import BACKFILL_POLICY, ITEM_BUCKETS, N_BUCKETS, bucket_index, buckets_of
from movrec_pipeline.defs.policies import EMBED_RETRY, EMBEDDING_API_POOL, OWNERS
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource
from movrec_pipeline.embedders import sync, texts
from movrec_pipeline.embedders.base import truncate_text
from movrec_pipeline.warehouse import fingerprints

GROUP = "embeddings"
TEXT_KINDS = {  # asset name -> (item kind, upstream source asset, what it embeds)
    "film_embeddings": ("film", "dvdrental", "dvdrental films"),
    "netflix_embeddings": ("netflix", "netflix_titles", "Netflix shows"),
    "movielens_movie_embeddings": ("movielens", "movielens_movies", "MovieLens movies"),
}
EMBEDDING_COLUMNS = dg.TableSchema(columns=[
    dg.TableColumn("item_kind", "text"), dg.TableColumn("model_id", "integer"),
    dg.TableColumn("item_key", "text"), dg.TableColumn("bucket", "smallint"),
    dg.TableColumn("text_hash", "text", description="sha256 of the exact text embedded"),
    dg.TableColumn("truncated", "boolean"), dg.TableColumn("embedding", "vector"),
    dg.TableColumn("embedded_at", "timestamptz")])


def _materialize_text_embeddings(context: dg.AssetExecutionContext, kind: str, postgres: PostgresResource,
                                 embedding: EmbeddingResource) -> dg.MaterializeResult:
    buckets = buckets_of(context)
    embedder = embedding.get_embedder()
    model_id, _ = embedding.active_model(postgres)
    with movrec_errors_as_failures():
        before = embedder.stats.snapshot()
        with postgres.connect(autocommit=True) as conn:
            report = sync.sync_buckets(
                conn, embedder, kind=kind, model_id=model_id, template=texts.DEFAULT_TEMPLATES[kind],
                n_buckets=N_BUCKETS, buckets=buckets, batch_size=embedding.write_batch_size,
                limit=embedding.item_limit or None,
                truncate=lambda t: truncate_text(t, embedding.max_input_chars), log=context.log.info,
            )
            version = fingerprints.combine(model_id, fingerprints.vectors(conn, kind, model_id, buckets))
        after = embedder.stats.snapshot()
    for key in context.partition_keys:  # each bucket's own figures on its own materialization
        counts = report.buckets[bucket_index(key)]
        context.add_asset_metadata({
            "dagster/row_count": counts.items - counts.empty - counts.failed - counts.parked,
            "items": counts.items, "embedded": counts.embedded, "skipped_unchanged": counts.unchanged,
            "skipped_empty": counts.empty, "failed": counts.failed, "parked": counts.parked,
        }, partition_key=key)
    metadata = {  # the run's totals (every bucket's event carries them under run_*)
        "run_buckets": len(buckets),
        "run_items": report.items,
        "run_embedded": report.embedded,
        "run_skipped_unchanged": report.skipped_unchanged,
        "run_failed": report.failed,
        "run_parked": report.parked,
        "run_retried": report.retried,
        "run_deleted": report.deleted,
        "run_truncated": report.truncated,
        "texts_per_second": round(report.texts_per_second, 1),
        "provider_requests": after.requests - before.requests,
        "provider_retries": after.retries - before.retries,
        "provider": embedder.provider,
        "model": embedder.model,
        "dimensions": embedder.dimensions,
        "model_id": model_id,
    }
    if after.tokens is not None:
        metadata["tokens"] = after.tokens - (before.tokens or 0)
    if report.empty_keys:
        metadata["empty_text_keys"] = ", ".join(report.empty_keys)
    if report.failed_keys:
        metadata["failed_keys"] = ", ".join(report.failed_keys[:50])
    context.log.info("%s: %s", kind, {k: v for k, v in metadata.items() if isinstance(v, int | float)})
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(version))


def _text_embedding_asset(name: str) -> dg.AssetsDefinition:
    kind, upstream, source = TEXT_KINDS[name]

    @dg.asset(
        name=name, deps=[upstream], group_name=GROUP, partitions_def=ITEM_BUCKETS, backfill_policy=BACKFILL_POLICY,
        kinds={"pgvector", "openai", "pytorch"}, owners=OWNERS, code_version="2", pool=EMBEDDING_API_POOL,
        retry_policy=EMBED_RETRY,
        description=f"Text embeddings of {source} in `movrec.item_embeddings` (item_kind='{kind}'), one "
        "partition per hash bucket of the item key; only new or changed texts are sent to the provider (data version: "
        "the stored vectors' keys and text hashes). Items "
        "the provider refuses are isolated, recorded in `movrec.embedding_errors` and retried up to 3 times.",
        metadata={"dagster/column_schema": EMBEDDING_COLUMNS},
    )
    def _asset(context: dg.AssetExecutionContext, postgres: PostgresResource,
               embedding: EmbeddingResource) -> dg.MaterializeResult:
        return _materialize_text_embeddings(context, kind, postgres, embedding)

    return _asset


film_embeddings = _text_embedding_asset("film_embeddings")
netflix_embeddings = _text_embedding_asset("netflix_embeddings")
movielens_movie_embeddings = _text_embedding_asset("movielens_movie_embeddings")
