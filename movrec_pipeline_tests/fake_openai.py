"""A local OpenAI-compatible embeddings server (loopback only) with injectable faults, for tests/benchmarks.

    with FakeOpenAIServer(dim=64) as srv:
        srv.configure(fail_rate_429=0.3, retry_after=0.05)
        ...  # point a client at srv.base_url ("http://127.0.0.1:PORT/v1")
        srv.stats["requests"]

Vectors are deterministic: seeded from sha256(text), unit-normalised (`FakeOpenAIServer.vector_for`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


@dataclass
class FakeConfig:
    """Runtime behaviour of the fake server; change it with `FakeOpenAIServer.configure`."""

    dim: int = 1536  # default vector size (a request's `dimensions` field overrides it)
    latency_s: float = 0.0  # added to every answered request
    fail_rate_429: float = 0.0
    fail_rate_500: float = 0.0
    fail_rate_503: float = 0.0
    hang_rate: float = 0.0  # requests that sleep `hang_s` and then drop the connection without answering
    hang_s: float = 5.0
    retry_after: float | None = None  # `Retry-After` seconds sent with 429/500/503 (None: no header)
    retry_after_ms: float | None = None  # `retry-after-ms` sent with 429/500/503 (None: no header)
    wrong_dimensions: bool = False  # return dim-1 vectors
    nan: bool | str = False  # True: NaN in the first vector of each request; str: in inputs containing it
    empty_data: bool = False  # answer 200 with "data": []
    require_api_key: str | None = None  # 401 unless "Authorization: Bearer <key>"
    models: frozenset[str] | None = None  # 404 for other models (None: accept any)
    max_input_chars: int | None = None  # 400 when an input is longer (like a context-length error)
    reject: tuple[str, ...] = ()  # 400 when an input contains one of these (like a content filter)
    force_status: int | None = None  # answer every request with this error status
    usage: bool = True  # include the usage field
    float_only: bool = False  # ignore encoding_format=base64 and answer float lists (like some servers)
    seed: int = 0  # seed of the fault RNG (re-seeded whenever `seed` is configured)


class FakeOpenAIServer:
    """Threaded HTTP server implementing `POST /v1/embeddings` on 127.0.0.1 with a free port."""

    def __init__(self, dim: int = 1536, latency_s: float = 0.0, *, max_requests: int = 1_000_000,
                 max_in_flight: int = 64, **config: Any) -> None:
        self._lock = threading.Lock()
        self._config = FakeConfig(dim=dim, latency_s=latency_s)
        self._rng = random.Random(0)
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._max_requests = max_requests
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset_stats()
        if config:
            self.configure(**config)

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        """Bind a free loopback port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False  # idle keep-alive connections must not block shutdown
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, wake sleeping handlers and release the port."""
        if self._httpd is None:
            return
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- configuration and counters ----------------------------------------------------------------------
    def configure(self, **changes: Any) -> None:
        """Change behaviour at runtime (thread-safe): `configure(fail_rate_429=0.3, retry_after=0.05)`."""
        known = {f.name for f in fields(FakeConfig)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown fake server settings: {sorted(unknown)}")
        if "models" in changes and changes["models"] is not None:
            changes["models"] = frozenset(changes["models"])
        with self._lock:
            self._config = replace(self._config, **changes)
            if "seed" in changes:
                self._rng = random.Random(changes["seed"])

    @property
    def config(self) -> FakeConfig:
        with self._lock:
            return self._config

    def reset_stats(self) -> None:
        """Zero all counters."""
        with self._lock:
            self._stats: dict[str, Any] = {
                "requests": 0,  # every POST /v1/embeddings received
                "status": Counter(),  # status code -> count (hangs count as status 0)
                "inputs_embedded": 0,  # inputs in successful (200) responses
                "retry_requests": 0,  # requests carrying x-stainless-retry-count > 0
                "dimensions_param": 0,  # requests that carried a `dimensions` field
                "encoding_formats": Counter(),  # requested encoding_format -> count
                "batch_sizes": [],  # number of inputs of each request, in arrival order
                "batch_chars": [],  # summed input characters of each request
                "in_flight": 0,
                "max_in_flight": 0,
                "texts": Counter(),  # every well-formed input text received, with how often it was sent
            }

    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters."""
        with self._lock:
            s = dict(self._stats)
            s["status"] = Counter(s["status"])
            s["encoding_formats"] = Counter(s["encoding_formats"])
            s["texts"] = Counter(s["texts"])
            s["batch_sizes"] = list(s["batch_sizes"])
            s["batch_chars"] = list(s["batch_chars"])
            return s

    # -- deterministic vectors ---------------------------------------------------------------------------
    @staticmethod
    def vector_for(text: str, dim: int) -> np.ndarray:
        """The unit vector the server returns for `text` (float32, shape (dim,)).

        A hashed bag of words plus a small per-text component: texts sharing words are close, as with a
        real model (so indexes and recommendations behave realistically), and every text is distinct.
        """
        vec = _seeded(text, dim) * 0.3
        for word in re.findall(r"\w+", text.lower()):
            vec += _word_vector(word, dim)
        return (vec / np.linalg.norm(vec)).astype(np.float32)

    def expected(self, texts: list[str], dim: int | None = None) -> np.ndarray:
        """Matrix of `vector_for` rows for `texts` at `dim` (default: the configured dim)."""
        d = dim if dim is not None else self.config.dim
        return np.stack([self.vector_for(t, d) for t in texts]) if texts else np.empty((0, d), np.float32)

    # -- request handling (called from handler threads) -----------------------------------------------
    def _enter(self, body: dict[str, Any], headers: Any) -> tuple[FakeConfig, str]:
        """Count the request and draw its fault; returns (config snapshot, fault)."""
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        with self._lock:
            st = self._stats
            st["requests"] += 1
            st["in_flight"] += 1
            st["max_in_flight"] = max(st["max_in_flight"], st["in_flight"])
            st["batch_sizes"].append(len(texts))
            st["batch_chars"].append(sum(len(t) for t in texts if isinstance(t, str)))
            st["encoding_formats"][body.get("encoding_format", "float")] += 1
            if "dimensions" in body:
                st["dimensions_param"] += 1
            try:
                if int(headers.get("x-stainless-retry-count", "0")) > 0:
                    st["retry_requests"] += 1
            except ValueError:
                pass
            cfg = self._config
            if st["requests"] > self._max_requests:
                return cfg, "exhausted"
            r = self._rng.random()
        fault = "ok"
        edge = 0.0
        for name, rate in (("429", cfg.fail_rate_429), ("500", cfg.fail_rate_500),
                           ("503", cfg.fail_rate_503), ("hang", cfg.hang_rate)):
            edge += rate
            if r < edge:
                fault = name
                break
        return cfg, fault

    def _record(self, status: int, n_embedded: int = 0) -> None:
        """Count an outcome; called before the response is written so clients never see stale counters."""
        with self._lock:
            self._stats["status"][status] += 1
            self._stats["inputs_embedded"] += n_embedded

    def _leave(self) -> None:
        with self._lock:
            self._stats["in_flight"] -= 1

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)


def _seeded(token: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(token.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim)


@functools.lru_cache(maxsize=200_000)
def _word_vector(word: str, dim: int) -> np.ndarray:
    return _seeded("w:" + word, dim)


def _error(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class _Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive like a real API server."""

    fake: FakeOpenAIServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections are dropped after this

    def log_message(self, fmt: str, *args: Any) -> None:
        """Silence per-request logging."""

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None,
                   n_embedded: int = 0) -> None:
        data = json.dumps(payload).encode("utf-8")  # allow_nan: NaN becomes the literal NaN
        self.fake._record(status, n_embedded)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(200, {"object": "list", "data": [{"id": "fake-embedding", "object": "model"}]})
        else:
            self._send_json(404, _error(f"no route GET {self.path}", "invalid_request_error"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/v1/embeddings":
            self._send_json(404, _error(f"no route POST {self.path}", "invalid_request_error"))
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError:
            self._send_json(400, _error("request body is not valid JSON", "invalid_request_error"))
            return
        fake = self.fake
        with fake._slots:
            cfg, fault = fake._enter(body, self.headers)
            try:
                self._answer(body, cfg, fault)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (e.g. timed out) before we answered
            finally:
                fake._leave()

    def _answer(self, body: dict[str, Any], cfg: FakeConfig, fault: str) -> tuple[int, int]:
        """Write the response (counting it first); returns (status, inputs embedded), status 0 for a hang."""
        fake = self.fake
        if cfg.require_api_key is not None:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {cfg.require_api_key}":
                given = auth.removeprefix("Bearer ")
                # Echo the key like some providers do, so callers must keep it out of their messages.
                self._send_json(401, _error(f"Incorrect API key provided: {given}.", "invalid_request_error",
                                            "invalid_api_key"))
                return 401, 0
        if fault == "exhausted":
            self._send_json(503, _error("fake server request budget exhausted", "server_error"),
                            {"x-should-retry": "false"})
            return 503, 0
        model = body.get("model")
        inputs = body.get("input")
        if not isinstance(model, str) or inputs is None:
            self._send_json(400, _error("'model' and 'input' are required", "invalid_request_error"))
            return 400, 0
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not all(isinstance(t, str) and t for t in texts) or not texts:
            self._send_json(400, _error("'input' must be a non-empty string or array of non-empty strings",
                                        "invalid_request_error"))
            return 400, 0
        if cfg.models is not None and model not in cfg.models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            self._send_json(404, _error(message, "invalid_request_error", "model_not_found"))
            return 404, 0
        if cfg.force_status is not None:
            self._send_json(cfg.force_status,
                            _error(f"forced status {cfg.force_status}", "invalid_request_error"))
            return cfg.force_status, 0
        with fake._lock:
            fake._stats["texts"].update(texts)
        for i, t in enumerate(texts):
            if any(word in t for word in cfg.reject):
                self._send_json(400, _error(f"input[{i}] was rejected by the content filter",
                                            "invalid_request_error", "content_filter"))
                return 400, 0
        if cfg.max_input_chars is not None:
            for i, t in enumerate(texts):
                if len(t) > cfg.max_input_chars:
                    self._send_json(400, _error(f"input[{i}] exceeds the maximum context length",
                                                "invalid_request_error", "context_length_exceeded"))
                    return 400, 0
        retry_headers: dict[str, str] = {}
        if cfg.retry_after is not None:
            retry_headers["Retry-After"] = f"{cfg.retry_after:g}"
        if cfg.retry_after_ms is not None:
            retry_headers["retry-after-ms"] = f"{cfg.retry_after_ms:g}"
        if fault == "hang":
            fake._record(0)
            fake._sleep(cfg.hang_s)
            self.close_connection = True
            return 0, 0
        if fault in ("429", "500", "503"):
            status = int(fault)
            kind = "rate_limit_exceeded" if status == 429 else "server_error"
            self._send_json(status, _error(f"injected {status}", kind), retry_headers)
            return status, 0
        fake._sleep(cfg.latency_s)

        dim = body.get("dimensions") or cfg.dim
        if not isinstance(dim, int) or dim <= 0:
            self._send_json(400, _error("'dimensions' must be a positive integer", "invalid_request_error"))
            return 400, 0
        out_dim = dim - 1 if cfg.wrong_dimensions else dim
        as_base64 = body.get("encoding_format") == "base64" and not cfg.float_only
        data = []
        for i, text in enumerate(texts):
            vec = FakeOpenAIServer.vector_for(text, dim)[:out_dim].copy()
            if (cfg.nan is True and i == 0) or (isinstance(cfg.nan, str) and cfg.nan in text):
                vec[0] = np.nan
            emb: Any = base64.b64encode(vec.astype("<f4").tobytes()).decode() if as_base64 else vec.tolist()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        data.reverse()  # clients must re-order by `index`
        if cfg.empty_data:
            data = []
        payload: dict[str, Any] = {"object": "list", "data": data, "model": model}
        if cfg.usage:
            tokens = sum(len(t.split()) for t in texts)
            payload["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        self._send_json(200, payload, n_embedded=len(texts))
        return 200, len(texts)


if __name__ == "__main__":  # manual use: python -m movrec_pipeline_tests.fake_openai
    import time

    with FakeOpenAIServer() as srv:
        print(srv.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
