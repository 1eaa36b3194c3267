"""Embeddings from any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Ollama, OpenRouter, vLLM).

Transient failures (408/409/429/5xx, timeouts, connection errors) are retried by the official client's own
machinery (`max_retries`, exponential backoff from 0.5 s up to 8 s, honouring `retry-after-ms`/`Retry-After`
up to 120 s). Every attempt carries an `x-stainless-retry-count` header (0 for the first try); an httpx
request event hook on our own `http_client` reads it to count requests and retries.
"""

from __future__ import annotations

import base64
import re
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

import numpy as np

from movrec_pipeline.core.errors import ItemRejectedError, PermanentEmbeddingError, TransientEmbeddingError
from movrec_pipeline.embedders.base import EmbedStats, truncate_text, validate_vectors

if TYPE_CHECKING:
    import openai

DEFAULT_BASE_URL = "https://api.openai.com/v1"

#: Output size of well-known models when `dimensions` is not configured.
KNOWN_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "nomic-embed-text": 768,
}

_SECRET_PATTERN = re.compile(r"(sk-|Bearer\s+)[A-Za-z0-9_\-.*]+")
_RETRYABLE_STATUS = {408, 409, 429}
_ITEM_STATUS = {400, 413, 422}


def known_dimensions(model: str) -> int | None:
    """Dimensions of a well-known model, ignoring a provider prefix ("openai/...") and a tag (":latest")."""
    name = model.rsplit("/", 1)[-1].split(":", 1)[0]
    return KNOWN_DIMENSIONS.get(name)


class _CancelledError(Exception):
    """Raised inside a worker (from the request hook) once another batch has failed."""


class OpenAICompatibleEmbedder:
    """Batched, concurrent embeddings through the official `openai.OpenAI` client."""

    provider = "openai"

    def __init__(
        self,
        api_key: str,
        model: str = "text-embedding-3-small",
        base_url: str | None = None,
        dimensions: int | None = None,
        max_batch_items: int = 256,
        max_batch_chars: int = 200_000,
        max_input_chars: int = 16_000,
        concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 6,
    ) -> None:
        import openai  # deferred: keeps `import movrec_pipeline...` light

        if not api_key or not api_key.strip():
            raise PermanentEmbeddingError(
                "no API key configured for the OpenAI-compatible provider: set OPENAI_API_KEY"
                " (any non-empty value for Ollama or vLLM)"
            )
        for name, value in (("max_batch_items", max_batch_items), ("max_batch_chars", max_batch_chars),
                            ("max_input_chars", max_input_chars), ("concurrency", concurrency)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if dimensions is not None and dimensions < 1:
            raise ValueError(f"dimensions must be >= 1, got {dimensions}")
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.max_batch_items = max_batch_items
        self.max_batch_chars = max_batch_chars
        self.max_input_chars = max_input_chars
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.stats = EmbedStats()
        self._configured_dimensions = dimensions
        self._dimensions = dimensions or known_dimensions(model)
        self._dim_lock = threading.Lock()
        self._local = threading.local()  # per worker thread: the cancel event of the running call

        stats, local = self.stats, self._local

        def count_request(request: Any) -> None:
            cancel = getattr(local, "cancel", None)
            if cancel is not None and cancel.is_set():
                raise _CancelledError()
            retry = request.headers.get("x-stainless-retry-count", "0")
            stats.add(requests=1, retries=0 if retry == "0" else 1)

        http_client = openai.DefaultHttpxClient(timeout=timeout, event_hooks={"request": [count_request]})
        self._client: openai.OpenAI = openai.OpenAI(
            api_key=api_key, base_url=self.base_url, timeout=timeout, max_retries=max_retries,
            http_client=http_client,
        )
        self._finalizer = weakref.finalize(self, http_client.close)

    def __repr__(self) -> str:
        return (f"OpenAICompatibleEmbedder(model={self.model!r}, base_url={self.base_url!r}, "
                f"dimensions={self._dimensions!r}, concurrency={self.concurrency})")

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._finalizer()

    def __enter__(self) -> OpenAICompatibleEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dimensions(self) -> int:
        """Vector size: configured, known for the model, or learned (one probe request if still unknown)."""
        if self._dimensions is None:
            self.embed(["dimension probe"])
        assert self._dimensions is not None
        return self._dimensions

    # -- public API ---------------------------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; float32 array (n, dimensions), row i for texts[i]."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single string")
        items = list(texts)
        if not items:
            return np.empty((0, self._dimensions or 0), dtype=np.float32)
        prepared: list[str] = []
        cut = 0
        for i, text in enumerate(items):
            if not isinstance(text, str) or not text.strip():
                raise PermanentEmbeddingError(
                    f"item #{i}: input is empty or not a string: drop or fill empty texts before embedding"
                )
            text, was_cut = truncate_text(text, self.max_input_chars)
            prepared.append(text)
            cut += was_cut
        if cut:
            self.stats.add(truncated=cut)

        batches = self._batches(prepared)
        results: list[np.ndarray | None] = [None] * len(batches)
        cancel = threading.Event()
        if len(batches) == 1 or self.concurrency == 1:
            for b, (start, end) in enumerate(batches):
                results[b] = self._embed_batch(prepared[start:end], start, cancel)
        else:
            self._run_concurrently(prepared, batches, results, cancel)

        out = np.concatenate([r for r in results if r is not None], axis=0)
        validate_vectors(out, [f"#{i}" for i in range(len(items))], self.dimensions)
        return out

    # -- internals ----------------------------------------------------------------------------------------
    def _batches(self, texts: list[str]) -> list[tuple[int, int]]:
        """Contiguous [start, end) ranges bounded by item count and summed characters."""
        batches: list[tuple[int, int]] = []
        start, chars = 0, 0
        for i, text in enumerate(texts):
            n = i - start
            if n and (n >= self.max_batch_items or chars + len(text) > self.max_batch_chars):
                batches.append((start, i))
                start, chars = i, 0
            chars += len(text)
        batches.append((start, len(texts)))
        return batches

    def _run_concurrently(self, texts: list[str], batches: list[tuple[int, int]],
                          results: list[np.ndarray | None], cancel: threading.Event) -> None:
        """Run batches on a bounded pool; the first failure cancels the rest and is re-raised."""
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(batches)), thread_name_prefix="embed")
        futures: dict[Future[np.ndarray], int] = {}
        try:
            for b, (start, end) in enumerate(batches):
                futures[pool.submit(self._embed_batch, texts[start:end], start, cancel)] = b
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for fut in done:
                    if fut.exception() is not None:
                        cancel.set()
                        raise fut.exception()  # type: ignore[misc]
                    results[futures[fut]] = fut.result()
        finally:
            cancel.set()  # stops queued batches and any further retries of in-flight ones
            pool.shutdown(wait=False, cancel_futures=True)

    def _embed_batch(self, texts: list[str], offset: int, cancel: threading.Event) -> np.ndarray:
        """One embeddings call (the client retries transient failures); rows in input order."""
        import openai

        if cancel.is_set():
            raise _CancelledError()
        kwargs: dict[str, Any] = {"model": self.model, "input": texts, "encoding_format": "base64"}
        if self._configured_dimensions is not None:
            kwargs["dimensions"] = self._configured_dimensions
        self._local.cancel = cancel
        try:
            raw = self._client.embeddings.with_raw_response.create(**kwargs)
            payload = raw.http_response.json()
        except openai.APIStatusError as err:
            error = self._status_error(err)
            if isinstance(error, ItemRejectedError):
                error.span = (offset, offset + len(texts))  # one of these inputs is refused
            raise error from None
        except openai.APITimeoutError:
            raise TransientEmbeddingError(
                f"OpenAI-compatible provider at {self.base_url} timed out after {self.timeout:g} s"
                f" ({self.max_retries} retries): retry later or raise the timeout"
            ) from None
        except openai.APIConnectionError as err:
            cause = type(err.__cause__).__name__ if err.__cause__ else "connection error"
            raise TransientEmbeddingError(
                f"cannot reach OpenAI-compatible provider at {self.base_url} ({cause},"
                f" {self.max_retries} retries): check the server is running and base_url is right"
            ) from None
        except openai.OpenAIError as err:
            raise PermanentEmbeddingError(
                f"OpenAI-compatible provider at {self.base_url} gave an unusable answer"
                f" ({type(err).__name__}: {self._scrub(str(err))}): check base_url and model"
            ) from None
        except ValueError:
            raise PermanentEmbeddingError(
                f"OpenAI-compatible provider at {self.base_url} returned a non-JSON response:"
                " check base_url points at an OpenAI-compatible /v1 endpoint"
            ) from None
        finally:
            self._local.cancel = None
        return self._parse(payload, texts, offset)

    def _parse(self, payload: Any, texts: list[str], offset: int) -> np.ndarray:
        """Decode float or base64 vectors, order rows by `index`, check count/dimensions/values."""
        data = payload.get("data") if isinstance(payload, dict) else None
        n = len(texts)
        if not isinstance(data, list) or len(data) != n:
            got = len(data) if isinstance(data, list) else "no"
            raise PermanentEmbeddingError(
                f"OpenAI-compatible provider at {self.base_url} returned {got} vectors for {n} inputs"
                f" (items #{offset}-#{offset + n - 1}): check the model {self.model!r} is an embedding model"
            )
        rows: list[np.ndarray | None] = [None] * n
        for pos, item in enumerate(data):
            idx = item.get("index", pos) if isinstance(item, dict) else None
            if not isinstance(idx, int) or not 0 <= idx < n or rows[idx] is not None:
                raise PermanentEmbeddingError(
                    f"OpenAI-compatible provider at {self.base_url} returned a bad or duplicate index {idx!r}"
                    f" for items #{offset}-#{offset + n - 1}: check the server is OpenAI-compatible"
                )
            emb = item.get("embedding")
            try:
                if isinstance(emb, str):
                    vec = np.frombuffer(base64.b64decode(emb), dtype="<f4").astype(np.float32)
                else:
                    vec = np.asarray(emb, dtype=np.float32)
            except (ValueError, TypeError):
                vec = np.empty(0, np.float32)
            if vec.ndim != 1 or vec.size == 0:
                raise PermanentEmbeddingError(
                    f"item #{offset + idx}: OpenAI-compatible provider at {self.base_url} returned no usable"
                    " vector: check the server is OpenAI-compatible"
                )
            rows[idx] = vec
        dims = {r.size for r in rows if r is not None}
        if len(dims) != 1:
            raise PermanentEmbeddingError(
                f"OpenAI-compatible provider at {self.base_url} returned vectors of mixed sizes"
                f" {sorted(dims)}"
                f" for items #{offset}-#{offset + n - 1}: check the model configuration"
            )
        got_dim = dims.pop()
        expected = self._learn_dimensions(got_dim)
        if got_dim != expected:
            raise PermanentEmbeddingError(
                f"item #{offset}: model {self.model!r} at {self.base_url} returned {got_dim}-dimensional"
                " vectors,"
                f" expected {expected}: set the embedding dimensions to match the model"
            )
        matrix = np.stack(rows)  # type: ignore[arg-type]
        usage = payload.get("usage")
        tokens = usage.get("total_tokens") if isinstance(usage, dict) else None
        if isinstance(tokens, int):
            self.stats.add(tokens=tokens)
        validate_vectors(matrix, [f"#{offset + i}" for i in range(n)], expected, offset=offset)
        return matrix

    def _learn_dimensions(self, got: int) -> int:
        with self._dim_lock:
            if self._dimensions is None:
                self._dimensions = got
            return self._dimensions

    def _scrub(self, text: str) -> str:
        """One line, bounded, with the API key and anything key-like masked."""
        key = self._client.api_key
        if key:
            text = text.replace(key, "***")
        text = _SECRET_PATTERN.sub(r"\1***", text)
        text = " ".join(text.split())
        return text[:200] + ("..." if len(text) > 200 else "")

    def _status_error(self, err: openai.APIStatusError) -> Exception:
        """Map an HTTP error (after the client's own retries) to our error types, without the key."""
        status = err.status_code
        body = err.body
        detail = body.get("message") if isinstance(body, dict) else body
        detail = self._scrub(str(detail)) if detail else ""
        where = f"OpenAI-compatible provider at {self.base_url}"
        if status in _RETRYABLE_STATUS or status >= 500:
            return TransientEmbeddingError(
                f"{where} still failing with {status} after up to {self.max_retries} retries: retry later"
                " or lower the embedding concurrency"
            )
        if status == 401:
            return PermanentEmbeddingError(
                f"{where} rejected the API key (401): set OPENAI_API_KEY to a valid key"
            )
        if status == 403:
            return PermanentEmbeddingError(
                f"{where} refused access (403): check the key's project/permissions allow model"
                f" {self.model!r}"
            )
        if status == 404:
            return PermanentEmbeddingError(
                f"{where} answered 404 for model {self.model!r} ({detail or 'not found'}):"
                " check the model name"
                " and that base_url ends in /v1"
            )
        if status in _ITEM_STATUS:  # a bad input (too long, filtered …), or a bad setting: bisecting tells which
            return ItemRejectedError(f"{where} rejected the input ({status}: {detail or 'no detail'})")
        return PermanentEmbeddingError(
            f"{where} rejected the request ({status}: {detail or 'no detail'}):"
            " fix the embedding configuration"
            " (model, dimensions, input size limits)"
        )
