"""Strong ETags on stored lists (304 on If-None-Match, a new tag when a materialization lands), health and
Prometheus metrics, on a real server."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import psycopg
import pytest

from movrec_pipeline.warehouse import fingerprints

pytestmark = pytest.mark.slow
STORED = [("/v1/customers/42/recommendations", {"limit": 5}), ("/v1/users/7/recommendations", {}),
          ("/v1/movies/1/similar", {"limit": 3}), ("/v1/browse", {"genres": "Drama", "min_rating": 4}),
          ("/v1/search", {"q": "star wars"}), ("/api/search", {"q": "star wars"})]


@pytest.mark.parametrize(("path", "params"), STORED, ids=[p for p, _ in STORED])
def test_a_stored_list_has_a_strong_etag_and_304s_while_it_holds(client: httpx.Client, path: str,
                                                                  params: dict) -> None:
    first = client.get(path, params=params)
    tag = first.headers["etag"]
    assert first.status_code == 200 and tag.startswith('"') and not tag.startswith("W/")
    again = client.get(path, params=params)
    assert again.headers["etag"] == tag and again.content == first.content
    cached = client.get(path, params=params, headers={"If-None-Match": tag})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == tag
    assert client.get(path, params=params, headers={"If-None-Match": '"stale"'}).status_code == 200
    other = client.get(path, params={**params, "limit": 2})
    assert other.headers["etag"] != tag


def test_live_answers_carry_no_etag(client: httpx.Client) -> None:
    live = client.get("/v1/users/7/recommendations", params={"live": "true"})
    assert live.status_code == 200 and "etag" not in live.headers


def test_the_etag_changes_when_a_materialization_lands(client: httpx.Client, warehouse_url: str) -> None:
    """A landing records the asset's new data version with its table, in one transaction; the API reads it."""
    path = "/v1/users/7/recommendations"
    tag = client.get(path).headers["etag"]
    asset = "movielens_user_recommendations/b07"  # user 7's bucket (user_id % 32)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        before = fingerprints.recorded(conn, asset)
        assert before is not None
        try:
            with conn.transaction():  # what the asset does when it publishes a new table
                fingerprints.record(conn, asset, before + "-next")
            fresh = _revalidated(client, path, tag, lambda r: r.status_code == 200)
            assert fresh.headers["etag"] != tag
            assert client.get(path, headers={"If-None-Match": fresh.headers["etag"]}).status_code == 304
        finally:
            with conn.transaction():
                fingerprints.record(conn, asset, before)
    _revalidated(client, path, tag, lambda r: r.status_code == 304)


def _revalidated(client: httpx.Client, path: str, tag: str,
                 arrived: Callable[[httpx.Response], bool]) -> httpx.Response:
    """Revalidate until the answer shows the change: the API hears of a new version through LISTEN/NOTIFY, within
    milliseconds of the commit (the deadline only stops a broken listener from hanging the test)."""
    deadline = time.monotonic() + 30
    while True:
        answer = client.get(path, headers={"If-None-Match": tag})
        if arrived(answer) or time.monotonic() > deadline:
            return answer if arrived(answer) else pytest.fail(f"still {answer.status_code} after 30 s")
        time.sleep(0.02)


def test_health_and_metrics(client: httpx.Client) -> None:
    assert client.get("/livez").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert ready.json()["ready"] is True and checks["database"] == "ok"
    assert checks["movrec.customer_netflix_recommendations"] == "ok"
    assert checks["text model"] == "openai/fake-embed (64d)" and checks["collaborative model"].startswith("svd/")
    client.get("/v1/customers/9999/recommendations")
    text = client.get("/metrics").text
    assert 'movrec_api_requests_total{method="GET",route="/v1/customers/{customer_id}/recommendations",' \
           'status="404"}' in text
    assert "movrec_api_request_duration_seconds_bucket" in text and "movrec_api_db_pool_connections" in text
