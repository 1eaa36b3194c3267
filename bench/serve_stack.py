"""Which framework and server serve the API: FastAPI or Litestar, on uvicorn (httptools + uvloop) or granian.

    MOVREC_HOME=/path/with/a/materialized/warehouse .venv/bin/python bench/serve_stack.py [--seconds 8]

The same two endpoints are built in each framework, exactly as the API builds them: ``/ping`` (framework and
server overhead only) and ``/users/{id}/recommendations`` (a MovieLens user's stored top-10 through
``movrec_pipeline.query.recommend_for_user`` on a pooled connection in a worker thread, the dataclass serialised
by the framework). Each stack runs as its own server process, one worker, on 127.0.0.1; for each it measures the
peak rate of a closed loop (16 connections) and the latency of an open loop at a fixed rate (``loadgen``).
uvicorn never runs on h11 here (``--http httptools --loop uvloop``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_DIR))

from loadgen import Call, CpuMeter, closed_loop, open_loop  # noqa: E402

from movrec_pipeline.query.results import Listing  # noqa: E402 - module level: the frameworks resolve annotations

POOL_SIZE = 8  # connections = worker threads


# -- the two apps (module-level factories, imported by the server processes) ---------------------------------
def _pool():
    from movrec_pipeline.query.pool import open_pool

    return open_pool(min_size=POOL_SIZE, max_size=POOL_SIZE, timeout_s=5, statement_timeout_ms=5000,
                     name="movrec-bench")


def _stored_top10(pool, user_id: int):
    from movrec_pipeline.query import recommend_for_user
    from movrec_pipeline.query.pool import pooled

    with pooled(pool) as conn:
        return recommend_for_user(user_id, 10, conn=conn)


def _thread_pool_lifespan(state: dict):
    """A lifespan that sizes anyio's default thread limiter to the pool and opens / closes the pool in ``state``."""
    from contextlib import asynccontextmanager

    import anyio.to_thread

    @asynccontextmanager
    async def lifespan(app):
        anyio.to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
        state["pool"] = _pool()
        yield
        state["pool"].close()

    return lifespan


def fastapi_app():
    """FastAPI: a plain ``def`` endpoint runs in anyio's thread pool (its limiter set to the pool size)."""

    from fastapi import FastAPI

    state: dict = {}
    lifespan = _thread_pool_lifespan(state)

    app = FastAPI(lifespan=lifespan)

    @app.get("/ping")
    async def ping() -> dict:
        return {"ok": True}

    @app.get("/users/{user_id}/recommendations", response_model=Listing)
    def user_recs(user_id: int) -> Listing:
        return _stored_top10(state["pool"], user_id)

    return app


def fastapi_orjson_app():
    """FastAPI as the API runs it: an ``async def`` route runs the query in a worker thread through a limiter as large
    as the pool (anyio) and answers the orjson bytes of the dataclass (no response-model validation)."""
    from contextlib import asynccontextmanager

    import anyio
    import anyio.to_thread
    import orjson
    from fastapi import FastAPI
    from starlette.responses import Response

    state = {}

    @asynccontextmanager
    async def lifespan(app):
        state["pool"], state["limiter"] = _pool(), anyio.CapacityLimiter(POOL_SIZE)
        yield
        state["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ping")
    async def ping() -> dict:
        return {"ok": True}

    @app.get("/users/{user_id}/recommendations", response_model=Listing)
    async def user_recs(user_id: int) -> Response:
        listing = await anyio.to_thread.run_sync(_stored_top10, state["pool"], user_id, limiter=state["limiter"])
        return Response(orjson.dumps(listing), media_type="application/json")

    return app


def litestar_app():
    """Litestar: ``sync_to_thread=True`` runs the handler in anyio's thread pool; msgspec serialises."""

    from litestar import Litestar, get

    state: dict = {}
    lifespan = _thread_pool_lifespan(state)

    @get("/ping")
    async def ping() -> dict:
        return {"ok": True}

    @get("/users/{user_id:int}/recommendations", sync_to_thread=True)
    def user_recs(user_id: int) -> Listing:
        return _stored_top10(state["pool"], user_id)

    return Litestar([ping, user_recs], lifespan=[lifespan])


# -- servers -------------------------------------------------------------------------------------------------
def server_argv(server: str, factory: str, port: int) -> list[str]:
    target = f"serve_stack:{factory}"
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", target, "--factory", "--app-dir", str(BENCH_DIR), "--host",
                "127.0.0.1", "--port", str(port), "--http", "httptools", "--loop", "uvloop", "--no-access-log",
                "--log-level", "warning"]
    return [sys.executable, "-m", "granian", target, "--factory", "--working-dir", str(BENCH_DIR), "--interface",
            "asgi", "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--workers", "1",
            "--log-level", "warning"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}: {proc.stderr.read().decode()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(
                f"http://127.0.0.1:{port}/users/1/recommendations", timeout=2) as resp:
            if resp.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit("server did not answer")


def measure(server: str, framework: str, args: argparse.Namespace) -> dict:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(server_argv(server, f"{framework}_app", port), env=env, cwd=BENCH_DIR,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # read only when it fails
    try:
        wait_up(port, proc)
        ping, db = Call("GET", "/ping"), Call("GET", "/users/1/recommendations")
        closed_loop("127.0.0.1", port, db, connections=16, seconds=2)  # warm-up: threads, pool, caches
        n_ping, _ = closed_loop("127.0.0.1", port, ping, connections=16, seconds=args.seconds)
        n_db, _ = closed_loop("127.0.0.1", port, db, connections=16, seconds=args.seconds)
        users = args.users
        cpu = CpuMeter({"server": [proc.pid]})
        cpu.start()
        fixed = open_loop("127.0.0.1", port, lambda i: Call("GET", f"/users/{1 + i % users}/recommendations"),
                          rate=args.rate, warmup_s=2, measure_s=args.seconds)
        used = cpu.stop()
        return {"stack": f"{framework} + {server}", "ping_rps": n_ping / args.seconds, "db_rps": n_db / args.seconds,
                "p50": fixed.ms(50), "p99": fixed.ms(99), "max": fixed.max_ms, "errors": fixed.failed,
                "cpu": used["server"]}
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8, help="seconds per measurement")
    parser.add_argument("--rate", type=float, default=300, help="open-loop arrival rate (requests/s)")
    parser.add_argument("--users", type=int, default=600, help="rotate over MovieLens users 1..N")
    parser.add_argument("--stacks", default="fastapi:uvicorn,fastapi:granian,fastapi_orjson:uvicorn,"
                        "fastapi_orjson:granian,litestar:uvicorn,litestar:granian")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all stacks (figures: the median)")
    args = parser.parse_args()
    stacks = [tuple(s.split(":")) for s in args.stacks.split(",")]
    runs: dict[str, list[dict]] = {}
    for _ in range(args.rounds):  # interleaved, so a busy moment of the machine hits every stack alike
        for framework, server in stacks:
            row = measure(server, framework, args)
            runs.setdefault(row["stack"], []).append(row)
    print(f"one worker, 127.0.0.1, {args.seconds:g} s per figure, median of {args.rounds} interleaved rounds; open "
          f"loop at {args.rate:g}/s on the stored top-10")
    print(f"{'stack':<29} {'/ping req/s':>11} {'top-10 req/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'errors':>6} {'server CPU %':>12}")
    for stack, rows in runs.items():
        r = {key: statistics.median(row[key] for row in rows) for key in rows[0] if key != "stack"}
        print(f"{stack:<29} {r['ping_rps']:>11.0f} {r['db_rps']:>12.0f} {r['p50']:>7.2f} {r['p99']:>7.2f} "
              f"{r['max']:>7.2f} {r['errors']:>6.0f} {r['cpu']:>12.0f}")


if __name__ == "__main__":
    main()
