"""Parse the CSVs of any MovieLens release (ml-latest-small … ml-32m, or files of that format) into typed,
COPY-ready DataFrames plus quarantined rows.

Malformed records (wrong field count, non-UTF-8 bytes, repeated headers) are set aside while reading;
the remaining rows are validated with vectorised pandas operations, so ``ratings.csv`` (100k rows)
parses in well under a second.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from movrec_pipeline.core.errors import SourceDataError
from movrec_pipeline.ingest.csv_records import (
    check_header,
    cut_off_error,
    ends_mid_record,
    header_names,
    is_blank,
    is_repeated_header,
    iter_csv_records,
    raw_text,
    read_source_text,
    record_problem,
    split_lines,
    text_has_problems,
)

SOURCE_HINT = "a MovieLens release from https://files.grouplens.org/datasets/movielens/, unzipped"
MOVIES_COLUMNS: tuple[str, ...] = ("movieId", "title", "genres")
LINKS_COLUMNS: tuple[str, ...] = ("movieId", "imdbId", "tmdbId")
RATINGS_COLUMNS: tuple[str, ...] = ("userId", "movieId", "rating", "timestamp")
TAGS_COLUMNS: tuple[str, ...] = ("userId", "movieId", "tag", "timestamp")
QUARANTINE_COLUMNS: tuple[str, ...] = ("line_no", "key", "reason", "raw")
NO_GENRES = "(no genres listed)"
MAX_INT4 = 2**31 - 1  # the database columns are ``integer``

_TITLE_YEAR = re.compile(r"(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013\u2014]\s*(?:\d{4})?)?\)\s*")


@dataclass(frozen=True)
class ParseResult:
    """Rows ready for COPY (file order) and the quarantined rows: line_no, key, reason, raw.

    ``line_no`` is the 1-based physical line the record starts on (the header is line 1); ``key`` is the
    movieId (movies, links) or "userId,movieId" (ratings, tags) as written, or None if unreadable.
    """

    rows: pd.DataFrame
    quarantine: pd.DataFrame


def parse_title(title: str) -> tuple[str, int | None]:
    """'Toy Story (1995)' -> ('Toy Story', 1995); 'Babylon 5' -> ('Babylon 5', None).

    Trailing spaces are ignored, a range '(2006–2007)' gives its first year, and 'Matrix, The (1999)'
    keeps its article where it is. Whitespace runs in the result collapse to one space.
    """
    match = _TITLE_YEAR.fullmatch(title)
    if match and 1800 <= int(match["year"]) <= 2100:
        clean = " ".join(match["title"].split())
        return (clean or " ".join(title.split())), int(match["year"])
    return " ".join(title.split()), None


def _split_genres(value: str) -> list[str]:
    items = (g.strip() for g in value.split("|"))
    return list(dict.fromkeys(g for g in items if g and g != NO_GENRES))


@dataclass
class _Table:
    """A CSV read into string columns (well-formed records only), with reasons collected per row.

    ``frame`` has a RangeIndex, so a row's label is also its position in the plain-list columns.
    """

    name: str
    lines: list[str]
    frame: pd.DataFrame  # the required columns as object (str), plus line_no and end_line
    key: Callable[[list[str | None]], str | None]
    key_columns: tuple[str, ...]
    rejected: list[dict[str, object]]  # malformed records, already final
    reasons: dict[int, list[str]] = field(default_factory=dict)  # row -> reasons
    _lists: dict[str, list[object]] = field(default_factory=dict)

    def reject(self, mask: pd.Series | np.ndarray, reason: str | Callable[[int], str]) -> None:
        """Quarantine the rows where ``mask`` is true; ``reason`` may build the text from the row number."""
        for idx in np.flatnonzero(np.asarray(pd.Series(mask).fillna(False), dtype=bool)).tolist():
            self.reasons.setdefault(idx, []).append(reason if isinstance(reason, str) else reason(idx))

    def good(self) -> np.ndarray:
        """Boolean mask (frame order) of the rows with no reason so far."""
        mask = np.ones(len(self.frame), dtype=bool)
        mask[list(self.reasons)] = False
        return mask

    def value(self, idx: int, column: str) -> object:
        """The value in row ``idx`` (a position) of ``column``, read from a cached plain list."""
        if column not in self._lists:
            self._lists[column] = self.frame[column].tolist()
        return self._lists[column][idx]

    def quarantine(self) -> pd.DataFrame:
        rows = list(self.rejected)
        for idx, reasons in self.reasons.items():
            line_no, end_line = int(self.value(idx, "line_no")), int(self.value(idx, "end_line"))
            parts = [str(self.value(idx, c)) for c in self.key_columns]
            rows.append({"line_no": line_no, "key": self.key(list(parts)), "reason": "; ".join(reasons),
                         "raw": raw_text(self.lines, line_no, end_line)})
        rows.sort(key=lambda r: int(str(r["line_no"])))
        return pd.DataFrame({
            "line_no": pd.Series([r["line_no"] for r in rows], dtype="int64"),
            "key": pd.Series([r["key"] for r in rows], dtype=object),
            "reason": pd.Series([r["reason"] for r in rows], dtype=object),
            "raw": pd.Series([r["raw"] for r in rows], dtype=object),
        })


def _movie_key(parts: list[str | None]) -> str | None:
    return (parts[0] or "").strip() or None


def _pair_key(parts: list[str | None]) -> str | None:
    user, movie = ((p or "").strip() for p in parts)
    return f"{user},{movie}" if user or movie else None


def _records(lines: list[str], name: str) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """All records with their first and last physical line; fast when no record spans several lines."""
    try:
        rows = list(csv.reader(lines, strict=False))
    except csv.Error:
        rows = []  # let the tracked reader name the line
    if rows and len(rows) == len(lines):  # each record is exactly one line
        starts = np.arange(1, len(rows) + 1, dtype=np.int64)
        return rows, starts, starts
    tracked = list(iter_csv_records(lines, name))
    return ([r.fields for r in tracked], np.array([r.line_no for r in tracked], dtype=np.int64),
            np.array([r.end_line for r in tracked], dtype=np.int64))


def _fast_frame(text: str, lines: list[str], required: tuple[str, ...]) -> pd.DataFrame | None:
    """The whole file via pandas' C parser when it is plainly regular, else None (use the csv module).

    Regular: no double quotes, no undecodable bytes, every line (the first being the header) holds
    exactly the header's number of fields and none repeats the header. Row ``i`` is then line ``i + 2``.
    """
    n_commas = lines[0].count(",") if lines else -1
    if '"' in text or text_has_problems(text, lines) or any(line.count(",") != n_commas for line in lines):
        return None
    try:
        frame = pd.read_csv(io.StringIO(text), header=None, dtype=object, keep_default_na=False,
                            skip_blank_lines=False, engine="c")
    except (ValueError, pd.errors.ParserError):
        return None
    if len(frame) != len(lines) or frame.shape[1] != n_commas + 1 or is_blank(list(frame.iloc[0])):
        return None
    header = [str(v) for v in frame.iloc[0]]
    names = header_names(header)
    if not all(c.lower() in names for c in required) or (frame[0].iloc[1:] == header[0]).any():
        return None
    frame = frame.iloc[1:].reset_index(drop=True)
    frame = pd.DataFrame({c: pd.Series(frame[names.index(c.lower())].to_numpy(), dtype=object)
                          for c in required})
    frame["line_no"] = np.arange(2, len(frame) + 2, dtype=np.int64)
    frame["end_line"] = frame["line_no"]
    return frame


def _read_table(path: Path, required: tuple[str, ...], key_columns: tuple[str, ...],
                key: Callable[[list[str | None]], str | None]) -> _Table:
    """Read ``path``, set malformed records aside, return the rest as object columns of str."""
    name = path.name
    text = read_source_text(path, SOURCE_HINT)
    lines = split_lines(text)
    check_records = text_has_problems(text, lines)
    if (fast := _fast_frame(text, lines, required)) is not None:
        if fast.empty:
            raise SourceDataError(f"{name}: no data rows (only a header); replace it with a complete copy "
                                  f"({SOURCE_HINT})")
        return _Table(name, lines, fast, key, key_columns, [])
    del text
    rows, starts, ends = _records(lines, name)
    first = next((i for i, fields in enumerate(rows) if not is_blank(fields)), None)
    if first is None:
        raise SourceDataError(f"{name}: no data rows (the file holds only blank lines)")
    header = rows[first]
    col = check_header(header, required, name, f"the MovieLens header {','.join(required)}")
    header_key = header_names(header)
    n_fields, head0 = len(header), header[0]
    key_idx = [col[c] for c in key_columns]

    # Plain C-speed filters for the common case; the few other records are looked at one by one.
    good = [i for i in range(first + 1, len(rows)) if len(rows[i]) == n_fields and rows[i][0] != head0]
    if check_records:
        good = [i for i in good if not record_problem(rows[i])]
    good_set = set(good) if len(good) < len(rows) - first - 1 else None
    rejected: list[dict[str, object]] = []
    for i in range(first + 1, len(rows)) if good_set is not None else ():
        fields = rows[i]
        if i in good_set or is_blank(fields):
            continue
        problem = record_problem(fields)
        if problem:
            reason = problem
        elif len(fields) != n_fields:
            if int(ends[i]) == len(lines) and (ends_mid_record(lines) or ends[i] > starts[i]):
                raise cut_off_error(name, int(starts[i]), len(fields), n_fields)
            reason = f"expected {n_fields} fields, got {len(fields)}"
        elif is_repeated_header(fields, header_key):
            reason = "repeated header row"
        else:
            good.append(i)
            continue
        parts = [fields[j] if j < len(fields) and not record_problem([fields[j]]) else None for j in key_idx]
        rejected.append({"line_no": int(starts[i]), "key": key(parts), "reason": reason,
                         "raw": raw_text(lines, int(starts[i]), int(ends[i]))})
    good.sort()
    if not good and not rejected:
        raise SourceDataError(f"{name}: no data rows (only a header); replace it with a complete copy "
                              f"({SOURCE_HINT})")
    columns = list(zip(*(rows[i] for i in good), strict=True)) or [()] * n_fields
    frame = pd.DataFrame({c: pd.Series(columns[col[c]], dtype=object) for c in required})
    frame["line_no"] = starts[good]
    frame["end_line"] = ends[good]
    return _Table(name, lines, frame, key, key_columns, rejected)


def _int_column(table: _Table, column: str, *, nullable: bool = False, prefix: str = "") -> pd.Series:
    """Column as Int64; rejects values that are not whole numbers in 0..2**31-1 (a database ``integer``)."""
    raw = table.frame[column]
    if prefix:
        raw = pd.Series([v.strip().removeprefix(prefix) for v in raw], index=raw.index, dtype=object)
    number = pd.to_numeric(raw, errors="coerce")
    ok = (number >= 0) & (number <= MAX_INT4) & (number == np.floor(number))
    bad = ~ok
    if nullable:
        bad &= np.array([bool(v.strip()) for v in raw], dtype=bool)
    table.reject(bad, lambda i: f"{column} {table.value(i, column)!r} is not an integer in 0..{MAX_INT4}")
    return number.where(ok).astype("Int64")


def _timestamp_column(table: _Table, column: str = "timestamp") -> pd.Series:
    """Unix seconds -> tz-aware UTC timestamps; rejects anything else."""
    number = pd.to_numeric(table.frame[column], errors="coerce")
    ok = (number >= 0) & (number < 10**11) & (number == np.floor(number))
    table.reject(~ok, lambda i: f"{column} {table.value(i, column)!r} is not a Unix time in seconds")
    return pd.to_datetime(number.where(ok).astype("Int64"), unit="s", utc=True)


def _reject_unknown_movies(table: _Table, movie_id: pd.Series, known_movie_ids: set[int]) -> None:
    unknown = movie_id.notna() & ~movie_id.isin(known_movie_ids)
    ids = movie_id.tolist()
    table.reject(unknown, lambda i: f"unknown movieId {ids[i]} (not in movies.csv)")


def _finish(table: _Table, columns: dict[str, pd.Series], dtypes: dict[str, str]) -> ParseResult:
    good = table.good()
    rows = pd.DataFrame({c: s[good] for c, s in columns.items()}).reset_index(drop=True).astype(dtypes)
    return ParseResult(rows, table.quarantine())


def _reject_duplicates(table: _Table, keys: list[pd.Series], label: str, *, order: pd.Series | None = None
                       ) -> None:
    """Among rows still good, keep one per key (first in file, or latest by ``order``); reject the others."""
    good = table.good()
    frame = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)})[good]
    frame["line_no"] = table.frame["line_no"][good]
    cols = [f"k{i}" for i in range(len(keys))]
    if order is None:
        dup = frame.duplicated(cols, keep="first")
        kept = frame[~dup].set_index(cols)["line_no"]
        what = "first"
    else:
        frame["order"] = order[good]
        frame = frame.sort_values(["order", "line_no"], kind="stable")
        dup = frame.duplicated(cols, keep="last")
        kept = frame[~dup].set_index(cols)["line_no"]
        what = "latest"
    if not dup.any():
        return

    kept_at = dict(zip(kept.index.tolist(), kept.tolist(), strict=True))
    key_of = dict(zip(frame.index.tolist(), frame[cols].itertuples(index=False, name=None), strict=True))

    def reason(i: int) -> str:
        key = tuple(int(k) for k in key_of[i])
        where = kept_at[key if len(key) > 1 else key[0]]
        return f"duplicate {label} {', '.join(map(str, key))}: kept the {what} one (line {where})"

    table.reject(dup.reindex(table.frame.index, fill_value=False), reason)


def parse_movies(path: Path) -> ParseResult:
    """``movies.csv`` -> movie_id int64, title str (as in the file), clean_title str, year Int64, genres list.

    Quarantined: non-integer movieId, empty title, duplicate movieId (the first is kept).
    """
    table = _read_table(path, MOVIES_COLUMNS, ("movieId",), _movie_key)
    movie_id = _int_column(table, "movieId")
    titles = table.frame["title"]
    table.reject(pd.Series([not t.strip() for t in titles], index=titles.index), "empty title")
    _reject_duplicates(table, [movie_id], "movieId")
    parsed = [parse_title(t) for t in titles.tolist()]
    return _finish(table, {
        "movie_id": movie_id,
        "title": titles,
        "clean_title": pd.Series([p[0] for p in parsed], index=titles.index, dtype=object),
        "year": pd.Series([p[1] for p in parsed], index=titles.index, dtype="Int64"),
        "genres": pd.Series([_split_genres(g) for g in table.frame["genres"].tolist()], index=titles.index,
                            dtype=object),
    }, {"movie_id": "int64", "year": "Int64"})


def parse_links(path: Path, known_movie_ids: set[int]) -> ParseResult:
    """``links.csv`` -> movie_id int64, imdb_id Int64, tmdb_id Int64 (empty ids are NA).

    Quarantined: non-integer ids, unknown movieId, duplicate movieId (the first is kept).
    """
    table = _read_table(path, LINKS_COLUMNS, ("movieId",), _movie_key)
    movie_id = _int_column(table, "movieId")
    imdb_id = _int_column(table, "imdbId", nullable=True, prefix="tt")
    tmdb_id = _int_column(table, "tmdbId", nullable=True)
    _reject_unknown_movies(table, movie_id, known_movie_ids)
    _reject_duplicates(table, [movie_id], "movieId")
    return _finish(table, {"movie_id": movie_id, "imdb_id": imdb_id, "tmdb_id": tmdb_id},
                   {"movie_id": "int64", "imdb_id": "Int64", "tmdb_id": "Int64"})


def parse_ratings(path: Path, known_movie_ids: set[int]) -> ParseResult:
    """``ratings.csv`` -> user_id int64, movie_id int64, rating float64, rated_at datetime64[UTC].

    Quarantined: non-integer ids, unknown movieId, a rating that is not a number, outside 0.5..5.0 or
    not a multiple of 0.5, a bad timestamp, and for a repeated (userId, movieId) every rating but the
    latest (by timestamp, then by position in the file). A plainly regular file takes the numeric fast path
    (:mod:`movielens_bulk`, same rules and words); anything else is read record by record.
    """
    from movrec_pipeline.ingest.movielens_bulk import parse_ratings_fast

    fast = parse_ratings_fast(path, np.fromiter(known_movie_ids, dtype=np.int64, count=len(known_movie_ids)))
    if fast is not None:
        return ParseResult(*fast)
    table = _read_table(path, RATINGS_COLUMNS, ("userId", "movieId"), _pair_key)
    user_id = _int_column(table, "userId")
    movie_id = _int_column(table, "movieId")
    rating = pd.to_numeric(table.frame["rating"], errors="coerce").astype("float64")
    numeric = rating.notna() & (rating.abs() != float("inf"))
    table.reject(~numeric, lambda i: f"rating {table.value(i, 'rating')!r} is not a number")
    table.reject(numeric & ((rating < 0.5) | (rating > 5.0)),
                 lambda i: f"rating {table.value(i, 'rating')!r} is outside 0.5..5.0")
    table.reject(numeric & (rating >= 0.5) & (rating <= 5.0) & ((rating * 2) % 1 != 0),
                 lambda i: f"rating {table.value(i, 'rating')!r} is not a multiple of 0.5")
    rated_at = _timestamp_column(table)
    _reject_unknown_movies(table, movie_id, known_movie_ids)
    _reject_duplicates(table, [user_id, movie_id], "rating for userId, movieId", order=rated_at)
    return _finish(table, {"user_id": user_id, "movie_id": movie_id, "rating": rating, "rated_at": rated_at},
                   {"user_id": "int64", "movie_id": "int64", "rating": "float64"})


def parse_tags(path: Path, known_movie_ids: set[int]) -> ParseResult:
    """``tags.csv`` -> user_id int64, movie_id int64, tag str (trimmed), tagged_at datetime64[UTC].

    Quarantined: non-integer ids, unknown movieId, empty tag, bad timestamp.
    """
    table = _read_table(path, TAGS_COLUMNS, ("userId", "movieId"), _pair_key)
    user_id = _int_column(table, "userId")
    movie_id = _int_column(table, "movieId")
    tag = pd.Series([" ".join(t.split()) for t in table.frame["tag"]], index=table.frame.index, dtype=object)
    table.reject(tag == "", "empty tag")
    tagged_at = _timestamp_column(table)
    _reject_unknown_movies(table, movie_id, known_movie_ids)
    return _finish(table, {"user_id": user_id, "movie_id": movie_id, "tag": tag,
                           "tagged_at": tagged_at}, {"user_id": "int64", "movie_id": "int64"})
