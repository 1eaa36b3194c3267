"""The fast path for a large, regular ``ratings.csv`` (ML-32M: 877 MB, 32 M lines): numeric columns, no strings.

pandas' C parser reads the file straight into int64/float64 arrays; when that fails (a quote, a text in a
number column, a wrong field count) or the file has blank lines (row numbers would no longer be line
numbers), :func:`parse_ratings_fast` returns None and the careful record-by-record parser of
:mod:`movielens_csv` takes over. The same rules quarantine the same rows, vectorised. Memory is about
30 bytes per rating; time about a second per million.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from movrec_pipeline.ingest.csv_records import header_names

RATINGS_HEADER = ["userid", "movieid", "rating", "timestamp"]
MAX_INT4 = 2**31 - 1
QUARANTINE_COLUMNS = ["line_no", "key", "reason", "raw"]


def count_lines(path: Path, block: int = 1 << 24) -> tuple[int, bool]:
    """Newlines in the file, and whether its last byte is one."""
    n, last = 0, b""
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(block), b""):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n, last in (b"\n", b"\r")


def parse_ratings_fast(path: Path, known_movie_ids: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """``ratings.csv`` as (rows, quarantine) frames, or None when the file is not plainly regular."""
    try:
        with path.open("rb") as fh:
            head = fh.readline().decode("utf-8-sig", errors="replace")
            has_rows = bool(fh.read(64).strip())
    except OSError:
        return None  # the careful parser says what is wrong with the file
    if not has_rows or header_names(head.strip().split(",")) != RATINGS_HEADER:
        return None
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", engine="c", skip_blank_lines=False,
                            dtype={"userId": np.int64, "movieId": np.int64, "rating": np.float64,
                                   "timestamp": np.int64})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    lines, ends_with_newline = count_lines(path)
    if len(frame) != lines - (1 if ends_with_newline else 0):  # a blank or multi-line record: be careful
        return None
    user = frame["userId"].to_numpy()
    movie = frame["movieId"].to_numpy()
    rating = frame["rating"].to_numpy()
    ts = frame["timestamp"].to_numpy()
    del frame
    reasons = np.zeros(len(user), dtype=np.int8)  # 0 = good; else an index into REASONS
    checks = [  # the careful parser's rules and words; {0}..{3} are the fields as written
        ((user < 0) | (user > MAX_INT4), "userId {0!r} is not an integer in 0..2147483647"),
        ((movie < 0) | (movie > MAX_INT4), "movieId {1!r} is not an integer in 0..2147483647"),
        (~np.isfinite(rating), "rating {2!r} is not a number"),
        ((rating < 0.5) | (rating > 5.0), "rating {2!r} is outside 0.5..5.0"),
        ((rating * 2) % 1 != 0, "rating {2!r} is not a multiple of 0.5"),
        ((ts < 0) | (ts >= 10**11), "timestamp {3!r} is not a Unix time in seconds"),
        (~np.isin(movie, known_movie_ids), "unknown movieId {m} (not in movies.csv)"),
    ]
    templates = [""]
    for mask, template in checks:
        templates.append(template)
        reasons[(reasons == 0) & mask] = len(templates) - 1
    duplicate_of = _duplicates(user, movie, ts, reasons == 0)
    good = (reasons == 0) & (duplicate_of < 0)
    rows = pd.DataFrame({
        "user_id": user[good], "movie_id": movie[good], "rating": rating[good],
        "rated_at": pd.to_datetime(ts[good], unit="s", utc=True),
    })
    bad = np.flatnonzero(~good)
    quarantine = pd.DataFrame(columns=QUARANTINE_COLUMNS)
    if len(bad):
        raw = _raw_lines(path, bad + 2)
        records = []
        for i in bad.tolist():
            fields = [*raw[i + 2].split(","), "", "", "", ""][:4]
            if reasons[i]:
                reason = templates[reasons[i]].format(*(f.strip() for f in fields), m=movie[i])
            else:
                reason = (f"duplicate rating for userId, movieId {user[i]}, {movie[i]}: kept the latest one "
                          f"(line {duplicate_of[i] + 2})")
            records.append((i + 2, f"{user[i]},{movie[i]}", reason, raw[i + 2]))
        quarantine = pd.DataFrame(records, columns=QUARANTINE_COLUMNS)
    return rows, quarantine


def _duplicates(user: np.ndarray, movie: np.ndarray, ts: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """For each row, the row kept instead of it (a repeated pair: the latest by time, then by position), or -1."""
    out = np.full(len(user), -1, dtype=np.int64)
    idx = np.flatnonzero(valid)
    key = user[idx] * (MAX_INT4 + 1) + movie[idx]
    order = np.lexsort((idx, ts[idx], key))  # by pair, then time, then position: the kept row comes last
    sorted_key = key[order]
    same_as_next = sorted_key[:-1] == sorted_key[1:]
    if not same_as_next.any():
        return out
    last_of_group = np.r_[~same_as_next, True]
    group_last = np.flatnonzero(last_of_group)
    group_id = np.r_[0, np.cumsum(last_of_group[:-1])]  # group number of each sorted row
    kept = idx[order][group_last][group_id]
    rows = idx[order]
    dropped = ~last_of_group
    out[rows[dropped]] = kept[dropped]
    return out


def _raw_lines(path: Path, line_numbers: np.ndarray) -> dict[int, str]:
    """The text of a few lines (1-based), for quarantine rows."""
    wanted = set(int(n) for n in line_numbers)
    out: dict[int, str] = {}
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        for n, line in enumerate(itertools.islice(fh, max(wanted)), 1):
            if n in wanted:
                out[n] = line.rstrip("\r\n")
    return out
