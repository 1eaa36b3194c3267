"""Every endpoint of a real ``movrec serve`` answers exactly what the Python API (and ``movrec --json``) answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest

from movrec_pipeline import query
from movrec_pipeline.cli import render

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def conn(pipeline) -> Iterator[psycopg.Connection]:
    with query.connect() as c:
        yield c


def as_cli_json(result: object) -> object:
    """What ``movrec ... --json`` prints for a query result."""
    return json.loads(render.to_json(result))


CASES: list[tuple[str, dict | None, Callable]] = [
    ("/v1/customers/42/recommendations", {"limit": 5}, lambda c: query.recommend_for_customer(42, 5, conn=c)),
    ("/v1/customers/42/recommendations", {"limit": 4, "offset": 3, "diversity": 0.5},
     lambda c: query.recommend_for_customer(42, 4, offset=3, diversity=0.5, conn=c)),
    ("/v1/customers/42/recommendations", {"limit": 20, "offset": 10, "live": "true", "diversity": 0.3},
     lambda c: query.recommend_for_customer(42, 20, offset=10, diversity=0.3, live=True, conn=c)),
    ("/v1/users/7/recommendations", {"limit": 5}, lambda c: query.recommend_for_user(7, 5, conn=c)),
    ("/v1/users/7/recommendations", {"limit": 8, "diversity": 0.4},
     lambda c: query.recommend_for_user(7, 8, diversity=0.4, conn=c)),
    ("/v1/users/7/recommendations", {"limit": 15, "offset": 5, "live": "true"},
     lambda c: query.recommend_for_user(7, 15, offset=5, live=True, conn=c)),
    ("/v1/users/7/recommendations", {"live": "true", "exclude_seen": "false", "diversity": 0.2},
     lambda c: query.recommend_for_user(7, 10, live=True, exclude_seen=False, diversity=0.2, conn=c)),
    ("/v1/movies/1/similar", {"limit": 5}, lambda c: query.similar_movies(1, 5, conn=c)),
    ("/v1/movies/2571/similar", {"limit": 6, "offset": 12, "source": "collaborative", "exclude_seen_by": 7},
     lambda c: query.similar_movies(2571, 6, offset=12, source="collaborative", exclude_seen_by=7, conn=c)),
    ("/v1/movies/similar", {"title": "The Matrix", "limit": 3, "source": "text"},
     lambda c: query.similar_movies("The Matrix", 3, source="text", conn=c)),
    ("/v1/shows/s1/similar", {"limit": 5, "offset": 5}, lambda c: query.similar_shows("s1", 5, offset=5, conn=c)),
    ("/v1/search", {"q": "dark knight", "limit": 3}, lambda c: query.search_movies("dark knight", 3, conn=c)),
    ("/v1/search", {"q": "lord", "user_id": 7, "limit": 5, "offset": 2},
     lambda c: query.search_movies("lord", 5, user_id=7, offset=2, conn=c)),
    ("/v1/search", {"q": "toy sto"}, lambda c: query.search_movies("toy sto", conn=c)),
    ("/v1/semantic", {"q": "a sci-fi thriller about dreams and reality", "limit": 4},
     lambda c: query.semantic_search("a sci-fi thriller about dreams and reality", 4, conn=c)),
    ("/v1/semantic", {"q": "a heist in Paris", "kind": "netflix", "limit": 3, "offset": 3},
     lambda c: query.semantic_search("a heist in Paris", 3, kinds=("netflix",), offset=3, conn=c)),
    ("/v1/browse", [("genres", "action"), ("genres", "Sci-Fi"), ("min_rating", "4")],
     lambda c: query.browse_movies(genres=["action", "Sci-Fi"], min_rating=4.0, conn=c)),
    ("/v1/browse", {"order": "top-rated", "limit": 7, "offset": 7},
     lambda c: query.browse_movies(order="top-rated", k=7, offset=7, conn=c)),
    ("/v1/browse", {"order": "trending", "genres": "Comedy"},
     lambda c: query.browse_movies(order="trending", genres=["Comedy"], conn=c)),
    ("/v1/customers/42/explain", {"show": "s1035", "top": 3},
     lambda c: query.explain_recommendation(42, "s1035", top=3, conn=c)),
    ("/v1/status", None, lambda c: query.status(conn=c)),
]


@pytest.mark.parametrize(("path", "params", "call"), CASES, ids=[f"{p} {q}" for p, q, _ in CASES])
def test_a_get_answers_as_the_python_api(client: httpx.Client, conn, path: str, params, call) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == as_cli_json(call(conn))


POSTS: list[tuple[dict, Callable]] = [
    ({"positive": [1, 260, 1196], "negative": [2], "limit": 5},
     lambda c: query.recommend_from_movies([1, 260, 1196], [2], 5, conn=c)),
    ({"positive": [1, 260], "using": "text", "limit": 3, "offset": 3},
     lambda c: query.recommend_from_movies([1, 260], [], 3, using="text", offset=3, conn=c)),
    ({"positive": [1, 260, 1196], "negative": [2], "strategy": "best_score", "limit": 6},
     lambda c: query.recommend_from_movies([1, 260, 1196], [2], 6, strategy="best_score", conn=c)),
    ({"positive": [2571], "filter": {"genres": ["comedy"], "year": {"gte": 1990, "lte": 2005},
                                     "rating": {"gte": 3.5}}, "score_threshold": 0.1, "limit": 10},
     lambda c: query.recommend_from_movies([2571], [], 10, where=query.movie_filter(c, ["comedy"], 1990, 2005, 3.5),
                                           score_threshold=0.1, conn=c)),
]


@pytest.mark.parametrize(("body", "call"), POSTS, ids=[json.dumps(b) for b, _ in POSTS])
def test_recommend_from_examples_answers_as_the_python_api(client: httpx.Client, conn, body: dict, call) -> None:
    response = client.post("/v1/recommend", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == as_cli_json(call(conn))


def test_the_old_systems_paths_answer_bare_lists_of_the_same_items(client: httpx.Client, conn) -> None:
    cases = [
        ("/movies/recommendations", {"user_id": 7, "limit": 5, "use_embeddings": "false"},
         query.recommend_for_user(7, 5, conn=conn)),
        ("/movies/recommendations", {"user_id": 7, "limit": 5, "use_embeddings": "true"},
         query.recommend_for_user(7, 5, live=True, conn=conn)),
        ("/api/recommendations/1", {"limit": 4}, query.similar_movies(1, 4, source="text", conn=conn)),
        ("/api/search", {"q": "matrix", "limit": 3}, query.search_movies("matrix", 3, conn=conn)),
    ]
    for path, params, listing in cases:
        response = client.get(path, params=params, headers={"Authorization": "Bearer any-token-on-loopback"})
        assert response.status_code == 200, (path, response.text)
        assert response.json() == as_cli_json(listing)["items"], path


def test_pages_continue_ranks_and_are_never_short_while_more_match(client: httpx.Client, conn) -> None:
    whole = client.get("/v1/users/7/recommendations", params={"live": "true", "limit": 40}).json()["items"]
    second = client.get("/v1/users/7/recommendations", params={"live": "true", "limit": 20, "offset": 20}).json()
    assert [i["rank"] for i in second["items"]] == list(range(21, 41))
    assert [i["id"] for i in second["items"]] == [i["id"] for i in whole[20:]]

    # a filter few movies pass: the index scan stops short, the page is filled by exact search
    noir = {"genres": ["Film-Noir"], "year": {"lte": 1950}}
    exact = query.recommend_from_movies([1], [], 100, where=query.movie_filter(conn, ["Film-Noir"], None, 1950),
                                        exact=True, conn=conn)
    matching = len(exact.items)
    assert 10 < matching < 100
    for offset in (0, matching - 5):
        page = client.post("/v1/recommend", json={"positive": [1], "filter": noir, "limit": 10, "offset": offset})
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) == min(10, matching - offset)
    full = client.post("/v1/recommend", json={"positive": [1], "filter": noir, "limit": 100}).json()
    assert [i["id"] for i in full["items"]] == [i.id for i in exact.items]

    # similar movies for a user who rated many: the exclusions are in the query, the page stays full
    heavy = conn.execute("SELECT user_id FROM movielens.ratings GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()
    page = client.get("/v1/movies/1/similar", params={"source": "collaborative", "limit": 100, "offset": 900,
                                                      "exclude_seen_by": heavy[0]})
    assert page.status_code == 200, page.text
    assert len(page.json()["items"]) == 100 and page.json()["items"][0]["rank"] == 901
