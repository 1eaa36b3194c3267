"""A seeded generator of MovieLens-format data at any shape (users, movies, ratings), in GroupLens's layout.

    python bench/synthetic_movielens.py OUT_DIR --users 200948 --movies 87585 --ratings 32000204 [--seed 0]

writes ``OUT_DIR/movies.csv, ratings.csv, links.csv, tags.csv`` (the headers, quoting and value formats of
the real files). What matters for cost and quality is modelled:

* **item popularity** is Zipf-like (weight ∝ 1 / rank over a random permutation of the movies);
* **user activity** is log-normal with at least 20 ratings each (as every MovieLens user has), scaled so the
  ratings add up to exactly ``--ratings``;
* **latent structure**: 24 taste clusters over the 20 MovieLens genres; a movie's genres and title words come
  from its cluster (so text vectors carry signal too); a user mixes two clusters, each rating drawn from the
  first with a probability falling from 0.8 to 0.4 over the user's history (so recent history predicts the
  future better than old, as on a temporal split); within a cluster, popular movies are still drawn more;
* **session order** (``--sessions``; off by default): a user's ratings come in sessions (about 6 ratings, hours
  apart); within a session the next movie is, with probability 0.6, the next title of the series (a run of 8
  movies of one cluster, like a franchise or a box set) the previous movie belongs to. Without it, the order
  of a user's ratings carries only the slow drift between their two clusters; with it, the last few ratings
  predict the next ones, as on sites where people binge a series;
* **ratings** 0.5–5.0 in half steps from user and movie biases plus taste affinity; **timestamps** in per-user
  time order between 1995-01-09 and 2023-10-12; **tags** (about one per 16 ratings) and **links**.

Memory and time grow linearly with the ratings (chunks of users are generated and written in turn). On a T80
split of a 600-user shape, EASE's NDCG@10 is 2.2x popularity's (movrec_pipeline_tests/sources/
test_synthetic_movielens.py): there is structure to learn beyond popularity, as in the real releases.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

GENRES = ["Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
WORDS = {  # title words by genre: a text model can tell clusters apart
    "Action": "Fury Strike Mission Force Chase Vengeance", "Adventure": "Quest Journey Island Treasure Lost Voyage",
    "Animation": "Toon Pixel Dream Tales Little Magic", "Children": "Puppy Friends Family Holiday Kids Birthday",
    "Comedy": "Wedding Crazy Weekend Roommates Party Trouble", "Crime": "Heist Mob Gangster Alibi Cartel Witness",
    "Documentary": "Inside Truth Story Planet Voices Portrait", "Drama": "Silence Letters Winter Promise Home Time",
    "Fantasy": "Dragon Kingdom Sword Wizard Realm Legend", "Film-Noir": "Shadow Dame Night Smoke Detective Rain",
    "Horror": "Haunting Curse Blood Cabin Scream Demon", "IMAX": "Giant Ocean Sky Wild Deep Summit",
    "Musical": "Song Dance Stage Melody Broadway Rhythm", "Mystery": "Secret Riddle Clue Vanishing Puzzle Key",
    "Romance": "Love Kiss Heart Paris Summer Bride", "Sci-Fi": "Galaxy Robot Star Planet Future Alien",
    "Thriller": "Target Danger Conspiracy Edge Panic Hunt", "War": "Battle Front Soldier Empire Siege Glory",
    "Western": "Outlaw Frontier Sheriff Canyon Ranch Gunslinger",
}
N_CLUSTERS = 24
START, END = 789_652_009, 1_697_155_200  # 1995-01-09 .. 2023-10-13 (MovieLens 32M's span), epoch seconds
MIN_RATINGS = 20
AFFINITY = 150.0  # a cluster's movies are this much likelier for its fans (most picks are "on taste")
ZIPF = 1.0  # item popularity ∝ rank ** -ZIPF (the most popular movies are rated by most users, as in ML-32M)
SERIES_LEN = 8  # --sessions: movies of one cluster per series, in popularity order
SESSION_MEAN = 6.0  # --sessions: mean ratings per session (geometric)
FOLLOW = 0.6  # --sessions: chance that a session's next movie is the next title of the previous movie's series
FIRST_TASTE = (0.8, 0.4)  # chance that a user's rating comes from the first cluster: at the start, at the end
SHAPES = {"ml-32m": (200_948, 87_585, 32_000_204), "ml-25m": (162_541, 62_423, 25_000_095),
          "ml-latest-small": (610, 9_742, 100_836)}


def user_activity(rng: np.random.Generator, n_users: int, n_ratings: int, n_movies: int) -> np.ndarray:
    """Ratings per user: >= 20, log-normal above that, summing exactly to ``n_ratings``."""
    extra_total = n_ratings - MIN_RATINGS * n_users
    if extra_total < 0:
        raise SystemExit(f"{n_ratings:,} ratings cannot give {n_users:,} users 20 each")
    cap = min(n_movies, 20_000) - MIN_RATINGS
    raw = rng.lognormal(mean=0.0, sigma=1.25, size=n_users)
    extra = np.minimum(np.floor(raw / raw.sum() * extra_total), cap).astype(np.int64)
    short = extra_total - int(extra.sum())
    while short > 0:  # hand out what rounding and the cap left, to users still below the cap
        room = np.flatnonzero(extra < cap)
        take = rng.choice(room, size=min(short, len(room)), replace=False)
        extra[take] += 1
        short -= len(take)
    return MIN_RATINGS + extra


def catalogue(rng: np.random.Generator, n_movies: int):
    """Movie ids, cluster, genres, title, year and popularity weight."""
    ids = np.sort(rng.choice(np.arange(1, max(3 * n_movies, 300_000)), size=n_movies, replace=False))
    cluster_genres = [rng.choice(len(GENRES), size=rng.integers(1, 4), replace=False) for _ in range(N_CLUSTERS)]
    cluster = rng.integers(0, N_CLUSTERS, size=n_movies)
    years = np.clip(rng.normal(2002, 14, size=n_movies).round(), 1902, 2023).astype(int)
    popularity = np.empty(n_movies)
    popularity[rng.permutation(n_movies)] = (np.arange(1, n_movies + 1)) ** -ZIPF
    titles, genres = [], []
    for i in range(n_movies):
        own = list(cluster_genres[cluster[i]])
        if rng.random() < 0.3:
            own.append(int(rng.integers(len(GENRES))))
        names = sorted({GENRES[g] for g in own})
        words = [w for g in names for w in WORDS[g].split()]
        title = " ".join(rng.choice(words, size=rng.integers(1, 4), replace=False))
        titles.append(f"{title} {ids[i] % 97 or ''}".strip() + f" ({years[i]})")
        genres.append("|".join(names))
    return ids, cluster, years, popularity / popularity.sum(), titles, genres


def write_movies(out: Path, ids, titles, genres) -> None:
    with (out / "movies.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["movieId", "title", "genres"])
        writer.writerows(zip(ids.tolist(), titles, genres, strict=True))
    with (out / "links.csv").open("w", newline="", encoding="utf-8") as fh:
        fh.write("movieId,imdbId,tmdbId\n")
        for i, mid in enumerate(ids.tolist()):
            fh.write(f"{mid},{100000 + 7 * mid:07d},{10000 + 3 * mid + i % 3}\n")


def series_successor(cluster: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """Per movie, the next title of its series (-1 for the last of a series): each cluster's movies in popularity
    order, cut into runs of :data:`SERIES_LEN`."""
    nxt = np.full(len(cluster), -1, np.int64)
    for c in np.unique(cluster):
        members = np.flatnonzero(cluster == c)
        members = members[np.argsort(-popularity[members], kind="stable")]
        for start in range(0, len(members), SERIES_LEN):
            run = members[start:start + SERIES_LEN]
            nxt[run[:-1]] = run[1:]
    return nxt


def in_sessions(rng: np.random.Generator, items: np.ndarray, successor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``items`` (time order) rewritten into sessions: after a session's first movie, each next one is, with
    probability :data:`FOLLOW`, the successor of the previous (when not yet rated). Returns the items and each
    rating's session number."""
    n = len(items)
    session = np.cumsum(rng.random(n) < 1.0 / SESSION_MEAN)
    follow = (rng.random(n) < FOLLOW) & np.r_[False, session[1:] == session[:-1]]
    out = items.copy()
    seen = set(items.tolist())  # replaced draws stay in it: movies stay distinct, at the cost of a few follows
    for j in np.flatnonzero(follow).tolist():
        nxt = int(successor[out[j - 1]])
        if nxt >= 0 and nxt not in seen:
            seen.add(nxt)
            out[j] = nxt
    return out, session


def generate(out: Path, n_users: int, n_movies: int, n_ratings: int, seed: int = 0,
             chunk_users: int = 20_000, sessions: bool = False) -> dict[str, float]:
    """Write the four files; returns figures (seconds, counts). ``sessions``: session order within a user."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids, cluster, years, popularity, titles, genres = catalogue(rng, n_movies)
    write_movies(out, ids, titles, genres)
    counts = user_activity(rng, n_users, n_ratings, n_movies)
    # per cluster: the movies' popularity tilted towards the cluster (taste), as a cumulative distribution
    affinity = np.where(cluster[None, :] == np.arange(N_CLUSTERS)[:, None], AFFINITY, 1.0)
    cdf = np.cumsum(popularity[None, :] * affinity, axis=1)
    cdf /= cdf[:, -1:]
    movie_bias = rng.normal(0, 0.45, size=n_movies)
    release = ((years - 1902) / 121 * (END - START) * 0.9 + START).astype(np.int64)
    successor = series_successor(cluster, popularity) if sessions else None
    n_tags = 0
    with (out / "ratings.csv").open("w", encoding="utf-8") as rf, (out / "tags.csv").open("w", encoding="utf-8") as tf:
        rf.write("userId,movieId,rating,timestamp\n")
        tf.write("userId,movieId,tag,timestamp\n")
        for first in range(0, n_users, chunk_users):
            users = np.arange(first, min(first + chunk_users, n_users))
            lines, tag_lines = [], []
            for u in users:
                n = int(counts[u])
                c1, c2 = rng.integers(0, N_CLUSTERS, size=2)
                items = _sample_items(rng, cdf, c1, c2, n)
                t0 = int(rng.integers(START, END - 86_400 * 30))
                span = int(min(END - t0, rng.lognormal(17.0, 1.5)))
                times = np.sort(t0 + rng.integers(0, max(span, n), size=n))
                if successor is None:
                    times = np.maximum(times, np.minimum(release[items], END - 1))
                    order = np.argsort(times, kind="stable")
                    items, times = items[order], times[order]
                else:  # sessions keep their order: an hour apart inside, a session no earlier than its releases
                    items, session = in_sessions(rng, items, successor)
                    starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])
                    sizes = np.diff(np.r_[starts, n])
                    latest = np.maximum.reduceat(np.minimum(release[items], END - 1), starts)
                    before = np.r_[0, np.cumsum(sizes)[:-1]] * 3_600  # b_i = max(c_i, b_(i-1) + an hour each)
                    begin = np.maximum.accumulate(np.maximum(times[starts], latest) - before) + before
                    times = np.repeat(begin, sizes) + (np.arange(n) - np.repeat(starts, sizes)) * 3_600
                taste = np.where(cluster[items] == c1, 0.6, 0.0) + np.where(cluster[items] == c2, 0.8, 0.0)
                raw = 3.3 + rng.normal(0, 0.4) + movie_bias[items] + taste + rng.normal(0, 0.7, size=n)
                ratings = np.clip(np.round(raw * 2) / 2, 0.5, 5.0)
                uid = u + 1
                lines.append("".join(f"{uid},{m},{r:.1f},{t}\n" for m, r, t in
                                     zip(ids[items].tolist(), ratings.tolist(), times.tolist(), strict=True)))
                k = rng.binomial(n, 1 / 16)
                for j in rng.choice(n, size=k, replace=False).tolist() if k else []:
                    tag = rng.choice(genres[items[j]].split("|")).lower()
                    tag_lines.append(f"{uid},{ids[items[j]]},{tag},{times[j] + 60}\n")
            rf.write("".join(lines))
            tf.write("".join(tag_lines))
            n_tags += len(tag_lines)
    return {"seconds": time.perf_counter() - started, "users": n_users, "movies": n_movies,
            "ratings": int(counts.sum()), "tags": n_tags}


def _sample_items(rng: np.random.Generator, cdf: np.ndarray, c1: int, c2: int, n: int) -> np.ndarray:
    """``n`` distinct movies in time order: slot j from cluster ``c1``'s distribution with a probability falling
    linearly over the slots (:data:`FIRST_TASTE`), else from ``c2``'s."""
    from_first = rng.random(n) < np.linspace(*FIRST_TASTE, n)
    chosen: dict[int, None] = {}
    for c, want in ((c1, int(from_first.sum())), (c2, n)):
        _draw_distinct(rng, cdf[c], chosen, want)
    picked = np.fromiter(chosen, dtype=np.int64, count=len(chosen))
    items = np.empty(n, np.int64)
    items[from_first], items[~from_first] = picked[: from_first.sum()], picked[from_first.sum():]
    return items


def _draw_distinct(rng: np.random.Generator, cdf: np.ndarray, chosen: dict[int, None], want: int) -> None:
    """Add draws from ``cdf`` to ``chosen`` (insertion-ordered, distinct) until it holds ``want`` movies."""
    n_movies, tries = len(cdf), 0
    while len(chosen) < want:
        draws = np.searchsorted(cdf, rng.random(int((want - len(chosen)) * 1.3) + 8))
        for d in np.minimum(draws, n_movies - 1).tolist():
            chosen.setdefault(d)
            if len(chosen) >= want:
                return
        tries += 1
        if tries > 50:  # the head is exhausted: fill from anywhere
            rest = np.setdiff1d(rng.permutation(n_movies)[: want * 2], list(chosen))[: want - len(chosen)]
            chosen.update(dict.fromkeys(rest.tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--shape", choices=sorted(SHAPES), help="a published release's shape")
    parser.add_argument("--users", type=int)
    parser.add_argument("--movies", type=int)
    parser.add_argument("--ratings", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sessions", action="store_true", help="session order within each user's ratings")
    args = parser.parse_args()
    users, movies, ratings = SHAPES[args.shape] if args.shape else (args.users, args.movies, args.ratings)
    if not (users and movies and ratings):
        parser.error("give --shape or all of --users, --movies, --ratings")
    figures = generate(args.out, users, movies, ratings, args.seed, sessions=args.sessions)
    print(" ".join(f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v:,}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
