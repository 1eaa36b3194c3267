"""Parse and repair the Kaggle ``shivamb/netflix-shows`` CSV into a typed, COPY-ready DataFrame."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from movrec_pipeline.core.errors import SourceDataError
from movrec_pipeline.ingest.csv_records import (
    SURROGATE,
    check_header,
    cut_off_error,
    ends_mid_record,
    is_blank,
    iter_csv_records,
    raw_text,
    read_source_text,
    record_problem,
    repeats_known_header,
    split_lines,
    unknown_columns,
)

REQUIRED_COLUMNS: tuple[str, ...] = (
    "show_id", "type", "title", "director", "cast", "country", "date_added", "release_year", "rating",
    "duration", "listed_in", "description",
)
SHOW_COLUMNS: tuple[str, ...] = (
    "show_id", "show_type", "title", "director", "cast_members", "countries", "date_added", "release_year",
    "rating", "duration_minutes", "seasons", "listed_in", "description",
)
QUARANTINE_COLUMNS: tuple[str, ...] = ("line_no", "show_id", "reason", "raw")
SOURCE_HINT = "Kaggle shivamb/netflix-shows"
MIN_RELEASE_YEAR, MAX_RELEASE_YEAR = 1880, 2100

# ----------------------------------------------------------------------------------------------------
# Value parsers
# ----------------------------------------------------------------------------------------------------

_MONTHS = {
    m: i
    for i, names in enumerate(
        (("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
         ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
         ("october", "oct"), ("november", "nov"), ("december", "dec")),
        start=1,
    )
    for m in names
}
_DATE_LONG = re.compile(r"([A-Za-z]+)\.? (\d{1,2}),? (\d{4})")  # September 25, 2021 / Sep 25 2021
_DATE_DMY = re.compile(r"(\d{1,2})[- ]([A-Za-z]+)[- ](\d{2}|\d{4})")  # 25-Sep-21 / 25-Sep-2021
_DATE_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")  # 2021-09-25
_DURATION_MIN = re.compile(r"(\d+) ?min(?:s|utes?)?\.?", re.IGNORECASE)
_DURATION_SEASONS = re.compile(r"(\d+) ?seasons?", re.IGNORECASE)
_YEAR = re.compile(r"(\d{4})(?:\.0*)?")


def parse_date_added(value: str | None) -> datetime.date | None:
    """'September 25, 2021' (also with a leading space), '25-Sep-21' or '2021-09-25' -> date; blank -> None.

    Two-digit years follow strptime's ``%y`` rule (69-99 -> 19xx, 00-68 -> 20xx). Raises ValueError.
    """
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        return None
    try:
        if m := _DATE_LONG.fullmatch(text):
            return datetime.date(int(m[3]), _MONTHS[m[1].lower()], int(m[2]))
        if m := _DATE_DMY.fullmatch(text):
            year = int(m[3])
            if len(m[3]) == 2:
                year += 1900 if year >= 69 else 2000
            return datetime.date(year, _MONTHS[m[2].lower()], int(m[1]))
        if m := _DATE_ISO.fullmatch(text):
            return datetime.date(int(m[1]), int(m[2]), int(m[3]))
    except (KeyError, ValueError):
        pass
    raise ValueError(f"unparseable date_added {value!r}; expected e.g. 'September 25, 2021', '25-Sep-21' "
                     "or '2021-09-25'")


def parse_duration(value: str | None) -> tuple[int | None, int | None]:
    """'90 min' -> (90, None); '1 Season' / '3 Seasons' -> (None, n); blank -> (None, None).

    Raises ValueError for anything else.
    """
    if value is None:
        return None, None
    text = " ".join(value.split())
    if not text:
        return None, None
    if m := _DURATION_MIN.fullmatch(text):
        return int(m[1]), None
    if m := _DURATION_SEASONS.fullmatch(text):
        return None, int(m[1])
    raise ValueError(f"unparseable duration {value!r}; expected e.g. '90 min' or '2 Seasons'")


def split_list(value: str | None) -> list[str]:
    """'A, B,  C' -> ['A', 'B', 'C']: items trimmed, empty items and repeated items dropped (order kept)."""
    if not value:
        return []
    items = (" ".join(part.split()) for part in value.split(","))
    return list(dict.fromkeys(item for item in items if item))


# Mojibake: UTF-8 bytes that were decoded as Windows-1252 and re-encoded ("JosÃ©" for "José", "â€™" for "’").
_CP1252_CHAR = {b: bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0x100)}
_CP1252_BYTE = {ch: b for b, ch in _CP1252_CHAR.items()}
_CONT = "".join(re.escape(_CP1252_CHAR[b]) for b in range(0x80, 0xC0))
_MOJIBAKE = re.compile(
    f"(?:[\u00c2-\u00df][{_CONT}]|[\u00e0-\u00ef][{_CONT}]{{2}}|[\u00f0-\u00f4][{_CONT}]{{3}})+"
)


def _unmangle(match: re.Match[str]) -> str:
    try:
        return bytes(_CP1252_BYTE[ch] for ch in match.group()).decode("utf-8")
    except UnicodeDecodeError:
        return match.group()


def fix_mojibake(value: str) -> str:
    """Undo UTF-8-read-as-Windows-1252 damage ('JosÃ© â€“' -> 'José –'); other text is left alone.

    Only runs of characters that form valid UTF-8 byte sequences when mapped back through cp1252 are
    replaced, so correctly encoded accents ('é', 'ø') and lost characters ('?') are kept as they are.
    """
    if value.isascii():
        return value
    return _MOJIBAKE.sub(_unmangle, value)


# ----------------------------------------------------------------------------------------------------
# The Netflix file
# ----------------------------------------------------------------------------------------------------

_SHOW_TYPES = {"movie": "Movie", "tv show": "TV Show"}


@dataclass(frozen=True)
class NetflixParseResult:
    """Shows ready for COPY, the rows that could not be repaired, how many repeated headers were dropped, and
    the header's columns the loader does not know (loaded around; the asset reports them as a warning).

    ``shows``: one row per show in file order; text columns are object dtype holding ``str`` or ``None``,
    list columns hold ``list[str]``, ``date_added`` holds ``datetime.date`` or ``None``, integer columns
    are nullable ``Int64``. ``quarantine``: ``line_no`` (1-based physical line the record starts on; the
    header is line 1), ``show_id`` (str or None), ``reason``, ``raw`` (the record's text).
    """

    shows: pd.DataFrame
    quarantine: pd.DataFrame
    header_rows_dropped: int
    unknown_columns: tuple[str, ...] = ()


def _clean_text(value: str, repair: bool) -> str:
    if repair:
        value = fix_mojibake(value)
    return " ".join(value.replace("\u200b", " ").split())


def _parse_show(fields: list[str], col: dict[str, int], repair: bool) -> tuple[dict[str, object], list[str]]:
    """Typed values of one well-formed record, or the reasons it cannot be repaired."""
    get = {c: _clean_text(fields[i], repair) for c, i in col.items()}
    reasons: list[str] = []
    if not get["show_id"]:
        reasons.append("empty show_id")
    if not get["title"]:
        reasons.append("empty title")
    show_type = _SHOW_TYPES.get(get["type"].lower())
    if show_type is None:
        reasons.append(f"unknown type {get['type']!r}; expected 'Movie' or 'TV Show'")
    year = _YEAR.fullmatch(get["release_year"])
    release_year = int(year[1]) if year else None
    if release_year is None or not MIN_RELEASE_YEAR <= release_year <= MAX_RELEASE_YEAR:
        reasons.append(f"release_year {get['release_year']!r} is not a year in "
                       f"{MIN_RELEASE_YEAR}..{MAX_RELEASE_YEAR}")
    try:
        date_added = parse_date_added(get["date_added"])
    except ValueError as exc:
        reasons.append(str(exc))
        date_added = None
    rating, duration = get["rating"] or None, get["duration"]
    if rating and not duration and (_DURATION_MIN.fullmatch(rating) or _DURATION_SEASONS.fullmatch(rating)):
        rating, duration = None, rating  # the duration slipped into the rating column: move it back
    try:
        minutes, seasons = parse_duration(duration)
    except ValueError as exc:
        reasons.append(str(exc))
        minutes = seasons = None
    values: dict[str, object] = {
        "show_id": get["show_id"], "show_type": show_type, "title": get["title"],
        "director": get["director"] or None, "cast_members": split_list(get["cast"]),
        "countries": split_list(get["country"]), "date_added": date_added, "release_year": release_year,
        "rating": rating, "duration_minutes": minutes, "seasons": seasons,
        "listed_in": split_list(get["listed_in"]), "description": get["description"] or None,
    }
    return values, reasons


def _shows_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    data = {c: [r[c] for r in rows] for c in SHOW_COLUMNS}
    ints = {"release_year", "duration_minutes", "seasons"}
    return pd.DataFrame({c: pd.Series(v, dtype="Int64" if c in ints else object) for c, v in data.items()},
                        columns=list(SHOW_COLUMNS))


def _quarantine_frame(rows: list[dict[str, object]], key: str) -> pd.DataFrame:
    return pd.DataFrame({
        "line_no": pd.Series([r["line_no"] for r in rows], dtype="int64"),
        key: pd.Series([r[key] for r in rows], dtype=object),
        "reason": pd.Series([r["reason"] for r in rows], dtype=object),
        "raw": pd.Series([r["raw"] for r in rows], dtype=object),
    })


def parse_netflix_csv(path: Path, *, repair_mojibake: bool = True) -> NetflixParseResult:
    """Parse ``netflix_titles.csv``: every data record becomes a show or a quarantine row.

    Repairs: BOM/CRLF, repeated header rows (dropped and counted), a duration found in ``rating``,
    blank/odd whitespace (collapsed; line breaks inside a title or description become spaces), mojibake
    (``repair_mojibake``). A duplicate show_id keeps the first valid row. Raises SourceDataError for a
    missing, empty, non-CSV file or missing columns.
    """
    name = path.name
    lines = split_lines(read_source_text(path, SOURCE_HINT))
    records = iter_csv_records(lines, name)
    header = next((r for r in records if not is_blank(r.fields)), None)
    if header is None:
        raise SourceDataError(f"{name}: no data rows (the file holds only blank lines)")
    col = check_header(header.fields, REQUIRED_COLUMNS, name, f"the {SOURCE_HINT} header")
    n_fields = len(header.fields)

    shows: list[dict[str, object]] = []
    quarantine: list[dict[str, object]] = []
    first_seen: dict[str, int] = {}
    headers_dropped = data_rows = 0

    for line_no, end_line, fields in records:
        if is_blank(fields):
            continue
        if repeats_known_header(fields, col):
            headers_dropped += 1
            continue
        data_rows += 1
        first = fields[0].strip()
        show_id: str | None = first if first and not SURROGATE.search(first) else None
        problem = record_problem(fields)
        if problem:
            reasons = [problem]
        elif len(fields) != n_fields:
            if end_line == len(lines) and (ends_mid_record(lines) or end_line > line_no):
                raise cut_off_error(name, line_no, len(fields), n_fields)
            reasons = [f"expected {n_fields} fields, got {len(fields)}"]
            if end_line > line_no:
                reasons.append(f"record spans lines {line_no}-{end_line}: check for an unbalanced quote")
        else:
            values, reasons = _parse_show(fields, col, repair_mojibake)
            show_id = str(values["show_id"]) or None
            if not reasons and show_id in first_seen:
                reasons = [f"duplicate show_id {show_id!r} (first at line {first_seen[show_id]})"]
            if not reasons:
                first_seen[str(show_id)] = line_no
                shows.append(values)
                continue
        quarantine.append({"line_no": line_no, "show_id": show_id, "reason": "; ".join(reasons),
                           "raw": raw_text(lines, line_no, end_line)})

    if data_rows == 0:
        raise SourceDataError(f"{name}: no data rows (only a header); replace it with a complete copy "
                              f"({SOURCE_HINT})")
    return NetflixParseResult(_shows_frame(shows), _quarantine_frame(quarantine, "show_id"), headers_dropped,
                              tuple(unknown_columns(header.fields, REQUIRED_COLUMNS)))
