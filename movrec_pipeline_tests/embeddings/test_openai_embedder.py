"""OpenAI-compatible embedder against a real local HTTP server (fake_openai) - no mocks."""

from __future__ import annotations

import dataclasses
import socket
import time
import traceback
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from movrec_pipeline.core.errors import PermanentEmbeddingError, TransientEmbeddingError
from movrec_pipeline.embedders.base import EmbedStats, truncate_text, validate_vectors
from movrec_pipeline.embedders.openai_compat import OpenAICompatibleEmbedder, known_dimensions
from movrec_pipeline_tests.fake_openai import FakeOpenAIServer

KEY = "sk-test-SECRETKEY0123456789"
DIM = 32
TEXTS = [f"title {i}: a story about item {i} and its {'very ' * (i % 5)}curious friends" for i in range(32)]


@pytest.fixture
def srv() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(dim=DIM) as server:
        yield server


def make(srv: FakeOpenAIServer, **kw: Any) -> OpenAICompatibleEmbedder:
    kw.setdefault("model", "fake-embed")
    kw.setdefault("timeout", 5.0)
    return OpenAICompatibleEmbedder(api_key=kw.pop("api_key", KEY), base_url=srv.base_url, **kw)


def assert_no_key(err: BaseException) -> None:
    text = "".join(traceback.format_exception(err)) + repr(err)
    assert KEY not in text and "SECRETKEY" not in text
    assert "\n" not in str(err)


# -- happy path ----------------------------------------------------------------------------------------------
def test_vectors_equal_server_vectors_in_order(srv: FakeOpenAIServer) -> None:
    emb = make(srv, max_batch_items=5, concurrency=3)
    out = emb.embed(TEXTS)
    assert out.dtype == np.float32 and out.shape == (len(TEXTS), DIM)
    assert np.array_equal(out, srv.expected(TEXTS))  # exact: base64 float32 round trip, re-ordered by index
    s = srv.stats
    assert s["requests"] == emb.stats.requests == 7 and emb.stats.retries == 0
    assert s["encoding_formats"] == {"base64": 7}
    assert s["dimensions_param"] == 0  # not configured -> not sent (Ollama rejects it)
    assert emb.dimensions == DIM  # learned from the first response
    assert emb.stats.tokens == sum(len(t.split()) for t in TEXTS)


def test_configured_dimensions_are_sent_and_honoured(srv: FakeOpenAIServer) -> None:
    emb = make(srv, dimensions=16)
    out = emb.embed(TEXTS[:3])
    assert np.array_equal(out, srv.expected(TEXTS[:3], dim=16))
    assert srv.stats["dimensions_param"] == 1


def test_float_lists_and_missing_usage_are_accepted(srv: FakeOpenAIServer) -> None:
    srv.configure(float_only=True, usage=False)
    emb = make(srv, max_batch_items=10)
    assert np.array_equal(emb.embed(TEXTS), srv.expected(TEXTS))
    assert emb.stats.tokens is None


def test_empty_input_sends_nothing(srv: FakeOpenAIServer) -> None:
    emb = make(srv, dimensions=DIM)
    out = emb.embed([])
    assert out.shape == (0, DIM) and out.dtype == np.float32
    assert srv.stats["requests"] == 0 and emb.stats.requests == 0


def test_unknown_dimensions_probe_once(srv: FakeOpenAIServer) -> None:
    emb = make(srv)
    assert emb.dimensions == DIM and emb.dimensions == DIM
    assert srv.stats["requests"] == 1
    assert known_dimensions("text-embedding-3-large") == 3072
    assert known_dimensions("nomic-embed-text:latest") == 768
    assert known_dimensions("openai/text-embedding-3-small") == 1536


# -- batching, truncation, concurrency -----------------------------------------------------------------------
def test_batches_by_item_count(srv: FakeOpenAIServer) -> None:
    make(srv, max_batch_items=4, concurrency=1).embed(TEXTS[:10])
    assert srv.stats["batch_sizes"] == [4, 4, 2]


def test_batches_by_characters(srv: FakeOpenAIServer) -> None:
    texts = [f"{i:03d} " + "x" * 96 for i in range(10)]  # 100 chars each
    out = make(srv, max_batch_chars=250, concurrency=2).embed(texts)
    s = srv.stats
    assert s["requests"] == 5 and sorted(s["batch_sizes"]) == [2] * 5
    assert max(s["batch_chars"]) <= 250
    assert np.array_equal(out, srv.expected(texts))


def test_over_long_inputs_are_truncated_and_counted(srv: FakeOpenAIServer) -> None:
    long_text = " ".join(["word"] * 100)  # 499 chars
    texts = ["short one", long_text, "another short", long_text + " tail"]
    emb = make(srv, max_input_chars=50)
    out = emb.embed(texts)
    assert emb.stats.truncated == 2
    assert max(srv.stats["batch_chars"]) <= len("short one") + 50 + len("another short") + 50
    cut, was_cut = truncate_text(long_text, 50)
    assert was_cut and len(cut) <= 50 and not cut.endswith(" ")
    assert np.array_equal(out[1], srv.vector_for(cut, DIM))


def test_concurrency_overlaps_requests(srv: FakeOpenAIServer) -> None:
    srv.configure(latency_s=0.25)
    t0 = time.perf_counter()
    out = make(srv, max_batch_items=2, concurrency=4).embed(TEXTS[:16])  # 8 requests
    elapsed = time.perf_counter() - t0
    assert srv.stats["max_in_flight"] >= 3
    assert elapsed < 8 * 0.25  # sequential would take >= 2 s
    assert np.array_equal(out, srv.expected(TEXTS[:16]))


def test_concurrency_one_is_sequential(srv: FakeOpenAIServer) -> None:
    srv.configure(latency_s=0.02)
    make(srv, max_batch_items=2, concurrency=1).embed(TEXTS[:8])
    assert srv.stats["max_in_flight"] == 1


# -- transient faults: retried by the openai client itself ---------------------------------------------------
TRANSIENT = {
    "429+Retry-After": ({"fail_rate_429": 0.3, "retry_after": 0.05}, {}),
    "429+retry-after-ms": ({"fail_rate_429": 0.3, "retry_after_ms": 20}, {}),
    "429 no header (client backoff)": ({"fail_rate_429": 0.3}, {}),
    "500": ({"fail_rate_500": 0.3, "retry_after_ms": 20}, {}),
    "503": ({"fail_rate_503": 0.3, "retry_after_ms": 20}, {}),
    "mix": ({"fail_rate_429": 0.1, "fail_rate_500": 0.1, "fail_rate_503": 0.1, "retry_after": 0.02}, {}),
    "hang past timeout": ({"hang_rate": 0.3, "hang_s": 3.0}, {"timeout": 0.4}),
}


@pytest.mark.parametrize("faults,client_kw", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_faults_are_retried(srv: FakeOpenAIServer, faults: dict[str, Any],
                                      client_kw: dict[str, Any]) -> None:
    srv.configure(seed=3, **faults)
    texts = TEXTS[:24]
    emb = make(srv, max_batch_items=2, concurrency=4, max_retries=10, **client_kw)  # 12 batches
    out = emb.embed(texts)
    assert np.array_equal(out, srv.expected(texts))
    s = srv.stats
    assert emb.stats.retries > 0
    assert emb.stats.requests == s["requests"]
    assert emb.stats.retries == s["requests"] - 12 == s["retry_requests"]  # extra requests == retries
    assert s["inputs_embedded"] == len(texts)


def test_gives_up_with_transient_error(srv: FakeOpenAIServer) -> None:
    srv.configure(fail_rate_503=1.0, retry_after_ms=5)
    emb = make(srv, max_retries=2)
    with pytest.raises(TransientEmbeddingError, match="503 after up to 2 retries") as info:
        emb.embed(TEXTS[:3])
    assert srv.stats["requests"] == 3 and emb.stats.retries == 2
    assert_no_key(info.value)


def test_unreachable_server_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    emb = OpenAICompatibleEmbedder(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0,
                                   dimensions=8)
    with pytest.raises(TransientEmbeddingError, match="cannot reach") as info:
        emb.embed(["x"])
    assert emb.stats.requests == 1
    assert_no_key(info.value)


# -- permanent errors: fail fast, never leak the key ---------------------------------------------------------
PERMANENT = {
    "401 bad key": ({"require_api_key": "the-right-key"}, "rejected the API key \\(401\\)"),
    "400 too long": ({"max_input_chars": 5}, "rejected the input \\(400"),
    "404 unknown model": ({"models": {"other-model"}}, "404 for model 'fake-embed'"),
    "403": ({"force_status": 403}, "refused access \\(403\\)"),
    "422": ({"force_status": 422}, "rejected the input \\(422"),
}


@pytest.mark.parametrize("faults,pattern", PERMANENT.values(), ids=PERMANENT.keys())
def test_movrec_errors_as_failures_fail_fast(srv: FakeOpenAIServer, faults: dict[str, Any], pattern: str) -> None:
    srv.configure(**faults)
    emb = make(srv, max_retries=6)
    with pytest.raises(PermanentEmbeddingError, match=pattern) as info:
        emb.embed(TEXTS[:3])
    assert srv.stats["requests"] == 1 and emb.stats.requests == 1 and emb.stats.retries == 0
    assert srv.base_url in str(info.value)
    assert_no_key(info.value)


def test_key_is_never_shown(srv: FakeOpenAIServer) -> None:
    emb = make(srv)
    assert KEY not in repr(emb) and KEY not in str(emb)
    with pytest.raises(PermanentEmbeddingError, match="OPENAI_API_KEY"):
        OpenAICompatibleEmbedder(api_key="  ", base_url=srv.base_url)


def test_first_permanent_error_cancels_the_rest(srv: FakeOpenAIServer) -> None:
    srv.configure(force_status=400, latency_s=0.05)
    emb = make(srv, max_batch_items=1, concurrency=2)
    with pytest.raises(PermanentEmbeddingError):
        emb.embed(TEXTS)  # 32 batches
    time.sleep(0.1)
    assert srv.stats["requests"] <= 4


def test_permanent_error_stops_retries_of_other_batches(srv: FakeOpenAIServer) -> None:
    srv.configure(max_input_chars=60, fail_rate_429=1.0, retry_after=0.2)  # batch 0 retries, batch 1 is a 400
    emb = make(srv, max_batch_items=1, concurrency=2, max_retries=10)
    with pytest.raises(PermanentEmbeddingError, match="400"):
        emb.embed(["short text", "x " * 40])
    seen = srv.stats["requests"]
    time.sleep(0.6)  # without cancellation batch 0 would keep retrying every 0.2 s
    assert srv.stats["requests"] <= seen + 1 and seen <= 3


def test_wrong_dimensions_are_permanent(srv: FakeOpenAIServer) -> None:
    srv.configure(wrong_dimensions=True)
    with pytest.raises(PermanentEmbeddingError, match="returned 31-dimensional vectors, expected 32"):
        make(srv, dimensions=DIM).embed(TEXTS[:3])
    assert srv.stats["requests"] == 1


def test_known_model_with_other_dimensions_is_permanent(srv: FakeOpenAIServer) -> None:
    emb = make(srv, model="nomic-embed-text")
    assert emb.dimensions == 768  # known without a request
    with pytest.raises(PermanentEmbeddingError, match="expected 768"):
        emb.embed(TEXTS[:2])


def test_wrong_vector_count_is_permanent(srv: FakeOpenAIServer) -> None:
    srv.configure(empty_data=True)
    with pytest.raises(PermanentEmbeddingError, match="returned 0 vectors for 3 inputs"):
        make(srv).embed(TEXTS[:3])
    assert srv.stats["requests"] == 1


@pytest.mark.parametrize("float_only", [False, True], ids=["base64", "json-NaN"])
def test_nan_names_the_item(srv: FakeOpenAIServer, float_only: bool) -> None:
    srv.configure(nan="poison", float_only=float_only)
    texts = TEXTS[:10]
    texts[7] = "a poison text"
    with pytest.raises(PermanentEmbeddingError, match="item #7: embedding contains NaN"):
        make(srv, max_batch_items=4, concurrency=1).embed(texts)


def test_empty_text_is_rejected_before_sending(srv: FakeOpenAIServer) -> None:
    with pytest.raises(PermanentEmbeddingError, match="item #1"):
        make(srv).embed(["ok", "   "])
    assert srv.stats["requests"] == 0


# -- shared helpers ------------------------------------------------------------------------------------------
def test_validate_vectors_names_first_bad_item() -> None:
    good = np.eye(3, dtype=np.float32)
    validate_vectors(good, ["a", "b", "c"], 3)
    bad = good.copy()
    bad[1, 0] = np.inf
    with pytest.raises(PermanentEmbeddingError, match="item b: embedding contains NaN or Inf"):
        validate_vectors(bad, ["a", "b", "c"], 3)
    zero = good.copy()
    zero[2] = 0
    with pytest.raises(PermanentEmbeddingError, match="item c: embedding is all zeros"):
        validate_vectors(zero, ["a", "b", "c"], 3)
    with pytest.raises(PermanentEmbeddingError, match="2 dimensions, expected 3"):
        validate_vectors(good[:, :2], ["a", "b", "c"], 3)
    with pytest.raises(PermanentEmbeddingError, match="3 vectors for 2 items"):
        validate_vectors(good, ["a", "b"], 3)


def test_truncate_text_cuts_at_word_boundary() -> None:
    assert truncate_text("short", 10) == ("short", False)
    assert truncate_text("alpha beta gamma", 12) == ("alpha beta", True)
    assert truncate_text("x" * 30, 10) == ("x" * 10, True)  # no boundary: hard cut


def test_stats_add_is_cumulative() -> None:
    st = EmbedStats()
    st.add(requests=2, retries=1)
    st.add(tokens=5, truncated=1)
    st.add(tokens=3)
    assert (st.requests, st.retries, st.tokens, st.truncated) == (2, 1, 8, 1)
    assert dataclasses.asdict(st.snapshot()) == {"requests": 2, "retries": 1, "tokens": 8, "truncated": 1}
