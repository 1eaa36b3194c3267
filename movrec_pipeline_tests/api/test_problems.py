"""Errors are RFC 9457 problems carrying the CLI's one-line message; bad input is never a 500 or a traceback; API
keys are required as soon as the server listens off loopback."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from movrec_pipeline.api import auth
from movrec_pipeline_tests.api.conftest import PROJECT_DIR, free_port, start_server, stop_server

pytestmark = pytest.mark.slow
PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, detail: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"] and body["title"] and body["instance"]
    assert "Traceback" not in response.text and "\n" not in body["detail"]
    if detail is not None:
        assert body["detail"] == detail, body["detail"]
    return body


def test_unknown_ids_are_404_with_the_cli_message(client: httpx.Client) -> None:
    assert_problem(client.get("/v1/customers/9999/recommendations"), 404,
                   "unknown customer 9999 (customer ids are 1–599)")
    assert_problem(client.get("/v1/users/99999/recommendations"), 404,
                   "unknown MovieLens user 99999 (user ids are 1–610)")
    typo = assert_problem(client.get("/v1/movies/similar", params={"title": "Toy Stroy"}), 404)
    assert typo["detail"].startswith("unknown movie title 'Toy Stroy': did you mean \"Toy Story (1995)\"")
    genre = assert_problem(client.get("/v1/browse", params={"genres": "Comedie"}), 404)
    assert genre["detail"].startswith("unknown genre 'Comedie': did you mean Comedy")
    assert_problem(client.post("/v1/recommend", json={"positive": [1, 999999999]}), 404,
                   "unknown MovieLens movie id(s): 999999999")
    assert_problem(client.get("/v1/shows/s999999/similar"), 404)
    cli = subprocess.run([sys.executable, "-m", "movrec_pipeline.cli", "recommend", "--customer", "9999"],
                         capture_output=True, text=True, env=dict(os.environ), cwd=PROJECT_DIR, timeout=120)
    assert cli.stderr.strip() == "movrec: unknown customer 9999 (customer ids are 1–599)"


def test_bad_parameters_are_422(client: httpx.Client) -> None:
    body = assert_problem(client.get("/v1/users/7/recommendations", params={"limit": 0}), 422)
    assert body["detail"].startswith("limit: ") and body["errors"][0]["loc"] == ["query", "limit"]
    assert_problem(client.get("/v1/users/abc/recommendations"), 422)
    assert_problem(client.post("/v1/recommend", json={"positive": [1], "negative": [1]}), 422,
                   "movie ids both liked and disliked: 1")
    assert_problem(client.post("/v1/recommend", json={"positive": [1], "extra": True}), 422)
    assert_problem(client.post("/v1/recommend", content=b"{not json", headers={"content-type": "application/json"}),
                   422)


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("GET", "/v1/customers/99999999999999999999/recommendations", {}),
    ("GET", "/v1/customers/-1/recommendations", {}),
    ("GET", "/v1/users/7/recommendations", {"params": {"limit": "1e9"}}),
    ("GET", "/v1/users/7/recommendations", {"params": {"offset": "950", "limit": "100"}}),
    ("GET", "/v1/search", {"params": {"q": "\x00"}}),
    ("GET", "/v1/search", {"params": {"q": "   "}}),
    ("GET", "/v1/search", {"params": {"q": "'; DROP TABLE movielens.movies; --"}}),
    ("GET", "/v1/search", {"params": {"q": "x" * 600}}),
    ("GET", "/v1/search", {"params": {"q": "%(text)s {tsquery} \\' OR 1=1 ∑ 😀"}}),
    ("GET", "/v1/movies/similar", {"params": {"title": "Heat (1995)\x00"}}),
    ("GET", "/v1/shows/similar", {"params": {"title": "'); SELECT pg_sleep(10); --"}}),
    ("GET", "/v1/browse", {"params": {"min_rating": "NaN"}}),
    ("GET", "/v1/browse", {"params": {"min_count": "-1"}}),
    ("GET", "/v1/semantic", {"params": {"q": "\ufffd" * 10}}),
    ("GET", "/v1/customers/42/explain", {"params": {"show": "s1\x00"}}),
    ("POST", "/v1/recommend", {"json": {"positive": []}}),
    ("POST", "/v1/recommend", {"json": {"positive": [2**40]}}),
    ("POST", "/v1/recommend", {"json": {"positive": [1], "filter": {"genres": ["\x00"]}}}),
    ("POST", "/v1/recommend", {"json": {"positive": [1], "filter": {"year": {"gte": 2000, "lte": 1990}}}}),
    ("POST", "/v1/recommend", {"json": {"positive": [1], "score_threshold": 2}}),
    ("POST", "/v1/recommend", {"json": [1, 2, 3]}),
    ("POST", "/v1/recommend", {"content": b"positive=1", "headers": {"content-type": "text/plain"}}),
    ("POST", "/v1/recommend", {"content": b'{"positive": [1], "negative": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                               "headers": {"content-type": "application/json"}}),
    ("GET", "/v1/nothing-here", {}),
    ("DELETE", "/v1/status", {}),
])
def test_bad_input_is_never_a_server_error(client: httpx.Client, method: str, path: str, kwargs: dict) -> None:
    response = client.request(method, path, **kwargs)
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM, response.text


def test_an_unknown_route_a_wrong_method_and_a_big_body_are_problems(client: httpx.Client) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404)
    wrong = assert_problem(client.delete("/v1/status"), 405)
    assert wrong["type"] == "about:blank" and "GET" in client.delete("/v1/status").headers["allow"]
    big = client.post("/v1/recommend", content=b'{"positive": [' + b"1," * 20000 + b"1]}",
                      headers={"content-type": "application/json"})
    assert_problem(big, 413)

    def chunks():
        yield b'{"positive": ['
        for _ in range(5000):
            yield b"1,1,1,1,"
        yield b"1]}"

    streamed = client.post("/v1/recommend", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(streamed, 413)


def test_api_keys_are_required_off_loopback(pipeline) -> None:
    refused = subprocess.run([sys.executable, "-m", "movrec_pipeline.cli", "serve", "--host", "0.0.0.0", "--port",
                              str(free_port())], capture_output=True, text=True, timeout=120, cwd=PROJECT_DIR,
                             env={k: v for k, v in os.environ.items() if k != "MOVREC_API_KEY_HASHES"})
    assert refused.returncode == 2
    assert refused.stderr.startswith("movrec: the API would listen on 0.0.0.0 without API keys")
    assert "Traceback" not in refused.stderr

    key, digest = auth.new_key()
    server = start_server("keys", env={**os.environ, "MOVREC_API_KEY_HASHES": digest}, host="0.0.0.0")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            missing = assert_problem(c.get("/v1/status"), 401)
            assert missing["detail"] == "an API key is required: send Authorization: Bearer <key>"
            assert c.get("/v1/status").headers["www-authenticate"].startswith("Bearer")
            assert_problem(c.get("/v1/status", headers={"Authorization": "Bearer wrong"}), 401,
                           "the API key is not valid")
            assert_problem(c.get("/metrics"), 401)
            ok = {"Authorization": f"Bearer {key}"}
            assert c.get("/v1/status", headers=ok).status_code == 200
            assert c.get("/movies/recommendations", params={"user_id": 7}, headers=ok).status_code == 200
            assert c.get("/metrics", headers=ok).status_code == 200
            assert c.get("/livez").status_code == 200 and c.get("/openapi.json").status_code == 200
            schema = c.get("/openapi.json").json()
            assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    finally:
        stop_server(server)
