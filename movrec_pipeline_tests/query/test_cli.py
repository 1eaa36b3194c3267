"""``movrec`` query commands on the materialized graph: real commands, real data, friendly failures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from movrec_pipeline import query
from movrec_pipeline.cli import main as cli
from movrec_pipeline.core.settings import EmbeddingSettings
from movrec_pipeline.query.models import active_text_model, embedding_settings
from movrec_pipeline.query.session import session
from movrec_pipeline.warehouse import sqlfiles, vectors

pytestmark = pytest.mark.usefixtures("pipeline")


def movrec(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real entry point in a subprocess (inherits MOVREC_HOME and the fake provider's settings)."""
    return subprocess.run([sys.executable, "-m", "movrec_pipeline.cli", *args], env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=180)


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """``cli.main`` in-process (cheap): exit code, stdout, stderr (argparse errors exit via SystemExit)."""
    try:
        code = cli.main(list(args))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def ids(listing: dict) -> list[str]:
    return [item["id"] for item in listing["items"]]


def assert_one_line_error(code: int, err: str, expected: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("movrec: "), err
    assert expected in err, err


def test_recommend_table_and_live_agree_and_live_uses_the_hnsw_index(capsys) -> None:
    done = movrec("recommend", "--customer", "42", "--json")
    assert done.returncode == 0, done.stderr
    table = json.loads(done.stdout)
    assert table["source"] == "table movrec.customer_netflix_recommendations"
    assert len(table["items"]) == 10 and all(i["kind"] == "netflix" and i["because"] for i in table["items"])

    live = run_json(capsys, "recommend", "--customer", "42", "--live")
    assert live["source"].startswith("live: HNSW index item_emb_netflix_")
    assert len(set(ids(table)) & set(ids(live))) >= 8  # approximate index vs exact top-k in the asset

    code, out, _ = run(capsys, "recommend", "--customer", "42", "--k", "5")
    assert code == 0 and "Netflix picks for customer 42" in out and "because" in out
    assert len([line for line in out.splitlines() if line[:1].isdigit()]) == 5

    diverse = run_json(capsys, "recommend", "--customer", "42", "--live", "--diversity", "0.5", "--k", "5")
    assert len(diverse["items"]) == 5 and any("MMR" in n for n in diverse["notes"])

    with query.connect() as conn, conn.transaction():  # the statement knn() runs is answered by the index
        model = active_text_model(conn)
        vectors.set_search_params(conn, 10)
        conn.execute("SET LOCAL enable_sort = off")
        plan = "\n".join(r[0] for r in conn.execute(
            sql.SQL("EXPLAIN ") + vectors.knn_query(model.dimensions, "netflix", model.model_id),
            {"q": [1.0] * model.dimensions, "k": 10}).fetchall())
        assert int(conn.execute("SHOW hnsw.ef_search").fetchone()[0]) >= 10  # >= k
    assert "Index Scan using item_emb_netflix_" in plan and "_hnsw_" in plan


def test_recommend_for_movielens_user_and_from_movies(capsys, warehouse_url: str) -> None:
    user = run_json(capsys, "recommend", "--ml-user", "7", "--k", "5")
    assert len(user["items"]) == 5 and user["source"].startswith("table movrec.movielens_user_recommendations")
    assert all(i["because"] for i in user["items"])
    with psycopg.connect(warehouse_url) as conn:  # the count in the title comes from the published user_stats
        n = conn.execute("SELECT count(*) FROM movielens.ratings WHERE user_id = 7").fetchone()[0]
        stats_match = conn.execute("SELECT bool_and(s.n_ratings = r.n AND abs(s.mean_rating - r.mean) < 1e-9) "
                                   "FROM movrec.user_stats s JOIN (SELECT user_id, count(*) n, avg(rating) mean "
                                   "FROM movielens.ratings GROUP BY user_id) r USING (user_id)").fetchone()[0]
    assert user["title"] == f"Movies for MovieLens user 7 ({n} ratings)" and stats_match

    liked = run_json(capsys, "recommend", "--from-movies", "1,260,1196", "--not", "2", "--k", "8")
    assert len(liked["items"]) == 8 and not {"1", "260", "1196", "2"} & set(ids(liked))
    assert "2 mean(liked) - mean(disliked) of collaborative vectors" in liked["source"]
    assert liked["notes"] == ["not like: Jumanji (1995)"]
    scores = [i["score"] for i in liked["items"]]
    assert scores == sorted(scores, reverse=True)

    text = run_json(capsys, "recommend", "--from-movies", "1,260", "--using", "text", "--k", "3")
    assert "HNSW index item_emb_movielens_" in text["source"] and len(text["items"]) == 3


def test_similar_by_title_id_and_show(capsys, warehouse_url: str) -> None:
    code, out, _ = run(capsys, "similar", "--movie", "toy story", "--k", "3")
    assert code == 0 and out.startswith("Movies similar to Toy Story (1995) [id 1]")

    by_id = run_json(capsys, "similar", "--movie-id", "1", "--k", "10")
    sources = [i["extra"]["source"] for i in by_id["items"]]
    assert sources.count("collaborative") == 10 and sources.count("text") == 10
    assert "table movrec.movielens_similar_movies" in by_id["source"]

    unseen = run_json(capsys, "similar", "--movie", "The Matrix", "--k", "12", "--exclude-seen", "--ml-user", "7")
    with psycopg.connect(warehouse_url) as conn:
        rated = {str(r[0]) for r in conn.execute("SELECT movie_id FROM movielens.ratings WHERE user_id = 7")}
    assert unseen["title"].startswith("Movies similar to Matrix, The (1999)")
    assert len(unseen["items"]) == 24 and not rated & set(ids(unseen)) and "live kNN" in unseen["source"]

    shows = run_json(capsys, "similar", "--show", "s1", "--k", "5")
    assert len(shows["items"]) == 5 and "s1" not in ids(shows) and "HNSW" in shows["source"]


def test_search_plain_reranked_and_sql_looking_text(capsys, warehouse_url: str) -> None:
    done = movrec("search", "dark knight", "--k", "3")
    assert done.returncode == 0, done.stderr
    assert "Dark Knight, The" in done.stdout.splitlines()[5]  # title, source, blank, header, rule, first row

    plain = run_json(capsys, "search", "lord", "--k", "10")
    personal = run_json(capsys, "search", "lord", "--ml-user", "7", "--k", "10")
    assert "re-ranked" in personal["source"] and all("user_cosine" in i["extra"] for i in personal["items"])
    assert ids(plain) != ids(personal)
    assert run_json(capsys, "search", "toy sto")["source"].startswith("full-text search (prefix match")

    for text in ("'; DROP TABLE movielens.movies; --", "%(text)s {tsquery} \\' OR 1=1", "title:matrix AND"):
        code, _, err = run(capsys, "search", text)
        assert code == 0 and "Traceback" not in err, err
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM movielens.movies").fetchone()[0] == 9742
        conn.execute(sqlfiles.load("sources/movielens_search"))  # idempotent
        plan = conn.execute(sql.SQL("EXPLAIN ") + sql.SQL(sqlfiles.load("query/search")).format(
            tsquery=sql.SQL("websearch_to_tsquery('english', %(text)s)")), {"text": "dark", "limit": 5}).fetchall()
    assert "movie_stats_search_idx" in "\n".join(r[0] for r in plan)


def test_semantic_and_browse(capsys) -> None:
    found = run_json(capsys, "semantic", "a sci-fi thriller about dreams and reality", "--k", "4")
    assert [i["kind"] for i in found["items"]] == ["netflix"] * 4 + ["movielens"] * 4
    assert "openai/fake-embed (64d)" in found["source"]

    genres = run_json(capsys, "browse", "--genres", "action", "Sci-Fi", "--min-rating", "4")
    assert genres["items"] and all({"Action", "Sci-Fi"} <= set(i["genres"]) and i["score"] >= 4
                                   for i in genres["items"])
    top = run_json(capsys, "browse", "--top-rated", "--k", "20")
    assert all(i["extra"]["ratings"] >= 20 for i in top["items"])
    assert [i["score"] for i in top["items"]] == sorted((i["score"] for i in top["items"]), reverse=True)
    trending = run_json(capsys, "browse", "--trending")
    recent = [i["extra"]["recent"] for i in trending["items"]]
    assert len(recent) == 10 and recent == sorted(recent, reverse=True) and recent[-1] > 0


def test_explain_and_status(capsys) -> None:
    first = run_json(capsys, "recommend", "--customer", "42", "--k", "1")["items"][0]
    why = run_json(capsys, "explain", "--customer", "42", "--show", first["id"], "--top", "3")
    assert why["table_rank"] == 1 and why["show"]["id"] == first["id"] and len(why["drivers"]) == 3
    sims = [d["similarity"] for d in why["drivers"]]
    assert sims == sorted(sims, reverse=True) and -1 <= sims[-1] <= sims[0] <= 1
    assert abs(why["profile_similarity"] - first["score"]) < 1e-3
    assert first["because"].startswith(why["drivers"][0]["title"])

    done = movrec("status")
    assert done.returncode == 0, done.stderr
    assert "active text model: openai/fake-embed (64d)" in done.stdout and "hnsw item_emb_film_" in done.stdout
    status = run_json(capsys, "status")
    active = {s["source"]: s for s in status["sources"] if s["active"]}
    assert set(active) == {"film", "netflix", "movielens"}
    assert all(s["coverage_pct"] == 100.0 and s["index_method"] == "hnsw" for s in active.values())
    assert any(s["model"] == "svd/truncated-svd-64 (64d)" for s in status["sources"])
    assert {t["asset"]: t["rows"] > 0 for t in status["tables"]} == dict.fromkeys(
        ["customer_profiles", "customer_netflix_recommendations", "movielens_user_recommendations",
         "movielens_similar_movies", "recommendation_quality"], True)
    assert status["quality"][0]["method"] and status["quality"][0]["ndcg_at_10"] > 0


BAD_INPUTS = [
    (["recommend", "--customer", "99999"], "unknown customer 99999 (customer ids are 1–599)"),
    (["recommend", "--ml-user", "99999"], "unknown MovieLens user 99999"),
    (["recommend", "--customer", "42", "--k", "0"], "k must be a whole number from 1 to 1000"),
    (["recommend", "--customer", "42", "--k", "1001"], "k must be a whole number from 1 to 1000"),
    (["recommend", "--customer", "42", "--k", "many"], "argument --k: invalid int value"),
    (["recommend", "--from-movies", "1,99999999"], "unknown MovieLens movie id(s): 99999999"),
    (["recommend", "--from-movies", "1", "--not", "1"], "both liked and disliked"),
    (["recommend", "--ml-user", "7", "--live"], "--live only goes with --customer"),
    (["similar", "--movie", "Toy Stroy"], 'did you mean "Toy Story (1995)"'),
    (["similar", "--movie-id", "99999999"], "unknown MovieLens movie id 99999999"),
    (["similar", "--show", "s99999"], "unknown Netflix show id 's99999'"),
    (["similar", "--movie-id", "1", "--exclude-seen"], "--exclude-seen and --ml-user go together"),
    (["search", "   "], "empty search text"),
    (["semantic", ""], "empty search text"),
    (["browse", "--genres", "Scifi"], "did you mean Sci-Fi?"),
    (["browse"], "say what to browse"),
    (["explain", "--customer", "42", "--show", "Not A Real Show Title"], "unknown Netflix show"),
]


@pytest.mark.parametrize(("args", "expected"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_2(capsys, args: list[str], expected: str) -> None:
    code, out, err = run(capsys, *args)
    assert_one_line_error(code, err, expected)
    assert out == ""


def test_bad_input_in_a_real_process_and_customer_without_rentals(warehouse_url: str) -> None:
    done = movrec("similar", "--movie", "Toy Stroy")
    assert_one_line_error(done.returncode, done.stderr, "unknown movie title 'Toy Stroy'")
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        new_id = conn.execute("INSERT INTO dvdrental.customer (store_id, first_name, last_name, address_id) "
                              "SELECT store_id, 'Nora', 'Rentals', address_id FROM dvdrental.customer "
                              "ORDER BY customer_id LIMIT 1 RETURNING customer_id").fetchone()[0]
        try:
            for extra in ([], ["--live"]):
                done = movrec("recommend", "--customer", str(new_id), *extra)
                assert_one_line_error(done.returncode, done.stderr, f"customer {new_id} (Nora Rentals) has no rentals")
        finally:
            conn.execute("DELETE FROM dvdrental.customer WHERE customer_id = %s", (new_id,))


def test_reads_are_read_only() -> None:
    with query.connect() as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
        with pytest.raises(query.QueryError, match="read-only transaction"), session(conn) as c:
            c.execute("DELETE FROM movrec.recommendation_quality")


def test_python_api_returns_dataclasses() -> None:
    with query.connect() as conn:
        listing = query.recommend_for_customer(42, 3, conn=conn)
        assert isinstance(listing, query.Listing) and isinstance(listing.items[0], query.Item)
        assert query.similar_movies(1, 2, source="text", conn=conn).items[0].extra == {"source": "text"}
        assert isinstance(query.status(conn=conn), query.Status)
    assert embedding_settings() == EmbeddingSettings.from_env()  # the pipeline's own parse (test_settings.py)


def test_unmaterialized_database_says_what_to_materialize() -> None:
    from movrec_pipeline.warehouse import embedded

    home = Path(tempfile.mkdtemp(prefix="movrec-empty-"))
    home.chmod(0o755)  # the embedded server runs as its own user
    try:
        env = {**os.environ, "MOVREC_HOME": str(home)}
        done = movrec("recommend", "--customer", "42", env=env)
        assert_one_line_error(done.returncode, done.stderr, "no recommendations yet: materialize "
                              "customer_netflix_recommendations (movrec materialize)")
        done = movrec("search", "dark knight", env=env)
        assert_one_line_error(done.returncode, done.stderr, "materialize movielens_movies")
    finally:
        embedded.stop_server(home / "pgdata")
        shutil.rmtree(home, ignore_errors=True)
