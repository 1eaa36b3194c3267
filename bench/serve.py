"""Load on the HTTP API at fixed arrival rates, beside the same calls through the in-process Python API.

    .venv/bin/python bench/serve.py --home /path/to/MOVREC_HOME [--seconds 60] [--warmup 10] [--url URL]

Against the materialized warehouse of ``--home`` (its MOVREC_HOME; ``--data`` sets MOVREC_DATA_DIR), the bench starts
``movrec serve`` (one worker unless ``--workers``) on a free loopback port, or uses the server at ``--url``. For each
scenario it drives an open loop (``loadgen``: each request timed from its intended send time into an HdrHistogram)
for ``--warmup`` seconds, then measures for ``--seconds``: p50/p95/p99/max, achieved rate, errors, and the CPU of the
server, of PostgreSQL and of the machine. Then the same calls run through ``movrec_pipeline.query`` in this process
on one connection at the same arrival rate; the ratio of the p50s is what HTTP costs. Scenarios: a MovieLens user's
stored top-10, the same answered 304 (If-None-Match), POST /v1/recommend with a genre filter (recall@10 against
exact search beside it), title search, browse with a rating filter, similar movies.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadgen import Call, CpuMeter, Outcome, in_process, open_loop

PROJECT_DIR = Path(__file__).resolve().parents[1]
WORDS = ["star wars", "matrix", "love", "war", "king", "dark", "man", "life", "night", "day", "toy story", "lord",
         "american", "girl", "house", "last", "time", "city", "dead", "world"]
GENRES = ["Action", "Comedy", "Drama", "Thriller", "Adventure", "Romance", "Sci-Fi", "Crime", "Horror", "Animation"]


@dataclass
class Scenario:
    name: str
    rate: float
    http: Callable[[int], Call]
    python: Callable[[int], object]
    expected: tuple[int, ...] = (200,)
    note: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "movrec_pipeline.cli", "serve", "--port", str(port), "--workers",
                             str(workers)], env=env, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"movrec serve exited: {proc.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=5) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    raise SystemExit("movrec serve did not become ready (GET /readyz)")


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def http_post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def sample(conn) -> dict[str, list]:
    """Users with stored picks, movies with similar lists, the most-rated movies (as liked examples)."""
    users = [r[0] for r in conn.execute(
        "SELECT DISTINCT user_id FROM movrec.movielens_user_recommendations ORDER BY 1 LIMIT 2000")]
    movies = [r[0] for r in conn.execute(
        "SELECT DISTINCT movie_id FROM movrec.movielens_similar_movies ORDER BY 1 LIMIT 2000")]
    popular = [r[0] for r in conn.execute(
        "SELECT movie_id FROM movrec.movie_stats ORDER BY n_ratings DESC, movie_id LIMIT 300")]
    return {"users": users, "movies": movies, "popular": popular}


def scenarios(args: argparse.Namespace, url: str, conn, inputs: dict[str, list]) -> list[Scenario]:
    from movrec_pipeline import query
    from movrec_pipeline.query import data_versions

    users, movies, popular = inputs["users"], inputs["movies"], inputs["popular"]
    n_tags = min(len(users), 500)
    tags = {}
    for user in users[:n_tags]:
        _, headers, _ = http_get(f"{url}/v1/users/{user}/recommendations")
        tags[user] = headers.get("etag") or headers.get("ETag")

    def likes(i: int) -> list[int]:
        return [popular[(7 * i) % len(popular)], popular[(7 * i + 3) % len(popular)],
                popular[(7 * i + 5) % len(popular)]]

    def rec_body(i: int) -> dict:
        return {"positive": likes(i), "filter": {"genres": [GENRES[i % len(GENRES)]]}, "limit": 10}

    def rec_python(i: int, exact: bool = False):
        body = rec_body(i)
        return query.recommend_from_movies(body["positive"], [], 10, exact=exact, conn=conn,
                                           where=query.movie_filter(conn, body["filter"]["genres"]))

    recall = recall_at_10(url, rec_body, lambda i: rec_python(i, exact=True), args.recall_queries)
    user_tables = ("movielens_user_recommendations/*", "movielens_movies", "movielens_ratings")

    def versions(i: int) -> object:
        with conn.transaction():
            return data_versions(conn, user_tables)

    return [
        Scenario("stored top-10 GET", args.rate_stored,
                 lambda i: Call("GET", f"/v1/users/{users[i % len(users)]}/recommendations"),
                 lambda i: query.recommend_for_user(users[i % len(users)], 10, conn=conn)),
        Scenario("304 (If-None-Match)", args.rate_stored,
                 lambda i: Call("GET", f"/v1/users/{users[i % n_tags]}/recommendations",
                                headers=(("If-None-Match", tags[users[i % n_tags]]),)),
                 versions, expected=(304,), note="in-process: a version read (the server: its LISTEN copy)"),
        Scenario("POST /v1/recommend, genre filter", args.rate_other,
                 lambda i: Call("POST", "/v1/recommend", json.dumps(rec_body(i)).encode()), rec_python,
                 note=f"recall@10 vs PG exact {recall:.3f} ({args.recall_queries} queries)"),
        Scenario("title search", args.rate_other,
                 lambda i: Call("GET", "/v1/search?q=" + urllib.parse.quote(WORDS[i % len(WORDS)])),
                 lambda i: query.search_movies(WORDS[i % len(WORDS)], 10, conn=conn)),
        Scenario("browse, rating filter", args.rate_other,
                 lambda i: Call("GET", f"/v1/browse?genres={GENRES[i % len(GENRES)]}&min_rating="
                                f"{3.0 + (i % 4) * 0.25}"),
                 lambda i: query.browse_movies(genres=[GENRES[i % len(GENRES)]], min_rating=3.0 + (i % 4) * 0.25,
                                               conn=conn)),
        Scenario("similar movies", args.rate_other,
                 lambda i: Call("GET", f"/v1/movies/{movies[i % len(movies)]}/similar?limit=10"),
                 lambda i: query.similar_movies(movies[i % len(movies)], 10, conn=conn)),
    ]


def recall_at_10(url: str, body: Callable[[int], dict], exact: Callable[[int], object], n: int) -> float:
    """Mean overlap of the API's top-10 (index, or exact search in memory) with PostgreSQL's exact scan (an
    independent implementation: the in-memory search is switched off for the truth), over ``n`` requests."""
    from unittest import mock

    from movrec_pipeline.query import exact_memory

    hits = total = 0
    for i in range(n):
        served = {item["id"] for item in http_post(f"{url}/v1/recommend", body(i))["items"]}
        with mock.patch.object(exact_memory, "loaded", return_value=None):
            truth = {item.id for item in exact(i).items}
        hits += len(served & truth)
        total += len(truth)
    return hits / total if total else 1.0


def postgres_pids(home: Path) -> list[int]:
    pidfile = home / "pgdata" / "postmaster.pid"
    try:
        return [int(pidfile.read_text().splitlines()[0])]
    except (OSError, ValueError, IndexError):
        return []


def run_http(scenario: Scenario, url: str, args: argparse.Namespace, cpu: CpuMeter) -> tuple[Outcome, dict]:
    host, port = url.removeprefix("http://").split(":")
    cpu.start()
    out = open_loop(host, int(port), scenario.http, rate=scenario.rate, warmup_s=args.warmup,
                    measure_s=args.seconds, expected=scenario.expected)
    return out, cpu.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="MOVREC_HOME of a materialized warehouse (default: the environment)")
    parser.add_argument("--data", type=Path, help="MOVREC_DATA_DIR (default: the environment)")
    parser.add_argument("--url", help="an already running API (default: start movrec serve)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of load before measuring")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per scenario")
    parser.add_argument("--inprocess-seconds", type=float, default=10.0, help="measured seconds in-process")
    parser.add_argument("--rate-stored", type=float, default=300.0, help="requests/s: stored top-10 and 304")
    parser.add_argument("--rate-other", type=float, default=50.0, help="requests/s: the other scenarios")
    parser.add_argument("--recall-queries", type=int, default=100)
    parser.add_argument("--only", help="comma-separated scenario numbers (1-6) to run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.home:
        os.environ["MOVREC_HOME"] = str(args.home.resolve())
    if args.data:
        os.environ["MOVREC_DATA_DIR"] = str(args.data.resolve())
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.path.insert(0, str(PROJECT_DIR))
    from movrec_pipeline import query
    from movrec_pipeline.core import paths

    proc, url = (None, args.url.rstrip("/")) if args.url else start_server(args.workers)
    rows = []
    try:
        with query.connect() as conn:
            inputs = sample(conn)
            chosen = scenarios(args, url, conn, inputs)
            if args.only:
                keep = {int(n) for n in args.only.split(",")}
                chosen = [s for n, s in enumerate(chosen, 1) if n in keep]
            server_pids = [proc.pid] if proc else []
            for scenario in chosen:
                cpu = CpuMeter({"server": server_pids, "postgres": postgres_pids(paths.movrec_home())})
                http, used = run_http(scenario, url, args, cpu)
                local = in_process(scenario.python, rate=scenario.rate, warmup_s=min(2.0, args.warmup),
                                   measure_s=args.inprocess_seconds)
                rows.append(figures(scenario, http, used, local))
                print_row(rows[-1], header=len(rows) == 1)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
    print(f"\none worker, server and PostgreSQL on this machine ({os.cpu_count()} CPUs); warm-up {args.warmup:g} s, "
          f"measured {args.seconds:g} s per scenario (in-process {args.inprocess_seconds:g} s); "
          f"latency from the intended send time (open loop), HdrHistogram")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


def figures(s: Scenario, http: Outcome, used: dict, local: Outcome) -> dict:
    return {"scenario": s.name, "rate": s.rate, "achieved": round(http.achieved_rate, 1),
            "p50_ms": http.ms(50), "p95_ms": http.ms(95), "p99_ms": http.ms(99), "max_ms": http.max_ms,
            "errors": http.failed, "error_kinds": dict(http.errors), "sent": http.sent,
            "server_cpu_pct": round(used.get("server", 0.0)), "postgres_cpu_pct": round(used.get("postgres", 0.0)),
            "machine_cpu_pct": round(used.get("machine", 0.0)),
            "python_p50_ms": local.ms(50), "python_p99_ms": local.ms(99), "python_errors": local.failed,
            "http_cost_p50": round(http.ms(50) / local.ms(50), 1) if local.ms(50) else None, "note": s.note}


def print_row(r: dict, header: bool) -> None:
    if header:
        print(f"{'scenario':<34} {'rate':>5} {'achieved':>8} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>8} {'err':>4} "
              f"{'srv%':>5} {'pg%':>5} {'all%':>5} | {'py p50':>7} {'py p99':>7} {'HTTP/py':>7}  note")
    print(f"{r['scenario']:<34} {r['rate']:>5.0f} {r['achieved']:>8.1f} {r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f} "
          f"{r['p99_ms']:>7.2f} {r['max_ms']:>8.2f} {r['errors']:>4} {r['server_cpu_pct']:>5} "
          f"{r['postgres_cpu_pct']:>5} {r['machine_cpu_pct']:>5} | {r['python_p50_ms']:>7.2f} "
          f"{r['python_p99_ms']:>7.2f} {r['http_cost_p50'] or 0:>6.1f}x  {r['note']}", flush=True)


if __name__ == "__main__":
    main()
