"""Reading CSV sources without losing a record: decode as text, parse record by record, know each record's lines.

Shared by :mod:`netflix_csv` and :mod:`movielens_csv` (pure Python, no Dagster).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from movrec_pipeline.core.errors import SourceDataError

SURROGATE = re.compile("[\udc80-\udcff]")  # undecodable bytes after decoding with errors="surrogateescape"
_SNIFF_BYTES = 1 << 16
# A field longer than this quarantines its record (the reason says so) instead of failing the file; the csv
# module's own limit is raised far above it so that such a record can be read and set aside.
MAX_FIELD_CHARS = 131_072
csv.field_size_limit(1 << 30)


class CsvRecord(NamedTuple):
    """One CSV record: the 1-based physical lines it starts and ends on, and its fields as decoded text."""

    line_no: int
    end_line: int
    fields: list[str]


def is_blank(fields: list[str]) -> bool:
    """True for an empty line (the csv module yields ``[]``) or a line of whitespace only."""
    return not fields or (len(fields) == 1 and not fields[0].strip())


def record_problem(fields: list[str]) -> str | None:
    """Why the record cannot be stored as it is (non-UTF-8 bytes, a NUL byte, an oversized field), or None."""
    if any(SURROGATE.search(f) for f in fields):
        return "non-UTF-8 bytes"
    if any("\x00" in f for f in fields):
        return "NUL byte in record"
    longest = max(map(len, fields), default=0)
    if longest > MAX_FIELD_CHARS:
        return f"a field of {longest:,} characters (over the {MAX_FIELD_CHARS:,} limit)"
    return None


def text_has_problems(text: str, lines: list[str] | None = None) -> bool:
    """Cheap whole-file test: can any record need :func:`record_problem`?"""
    if "\x00" in text or SURROGATE.search(text) is not None:
        return True
    return lines is not None and max(map(len, lines), default=0) > MAX_FIELD_CHARS


def ends_mid_record(lines: list[str]) -> bool:
    """True when the file's last line has no line terminator: a record there may be cut off."""
    return bool(lines) and not lines[-1].endswith(("\n", "\r"))


def cut_off_error(name: str, line_no: int, got: int, expected: int) -> SourceDataError:
    """The file error for a last record cut short (an interrupted download or copy), never a quarantine row."""
    return SourceDataError(
        f"{name}: the file ends in the middle of a record (line {line_no}: {got} of {expected} fields): it is "
        "cut off, e.g. an interrupted download; replace it with a complete copy")


def read_source_text(path: Path, put_hint: str) -> str:
    """Read ``path`` as UTF-8 CSV text (BOM stripped, undecodable bytes kept as lone surrogates).

    ``put_hint`` completes "put <file> (<put_hint>) in <dir>" in the missing-file message. Raises
    SourceDataError for a missing, unreadable, empty, compressed, UTF-16 or binary file.
    """
    name = path.name
    if not path.exists():
        raise SourceDataError(f"{name}: file not found at {path}; put {name} ({put_hint}) in {path.parent}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceDataError(f"{name}: cannot read {path} ({exc.strerror or exc}); check the path and its "
                              "permissions") from None
    if not data.strip():
        raise SourceDataError(f"{name}: file is empty ({len(data)} bytes), no data rows; "
                              f"replace it with a complete copy ({put_hint})")
    head = data[:_SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SourceDataError(f"{name}: file is UTF-16 encoded, not UTF-8 CSV text; re-save it as UTF-8 CSV")
    if head.startswith(b"PK\x03\x04"):
        raise SourceDataError(f"{name}: file is a ZIP archive (or .xlsx), not CSV text; extract or export "
                              "the CSV and put that in its place")
    if head.startswith(b"\x1f\x8b"):
        raise SourceDataError(f"{name}: file is gzip-compressed, not CSV text; decompress it first")
    if b"\x00" in head:
        raise SourceDataError(f"{name}: file is not CSV text (binary data with NUL bytes); "
                              f"replace it with the original CSV ({put_hint})")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="surrogateescape")


def split_lines(text: str) -> list[str]:
    """Physical lines with their terminators, split only on CR, LF and CRLF (as the csv module does)."""
    return io.StringIO(text, newline="").readlines()


def iter_csv_records(lines: list[str], name: str) -> Iterator[CsvRecord]:
    """Parse ``lines`` (from :func:`split_lines`) with the csv module, tracking each record's line span.

    Quoted fields may span lines. A record that makes the csv module fail (e.g. an unbalanced quote
    swallowing the rest of the file) raises SourceDataError naming the line.
    """
    reader = csv.reader(lines, strict=False)
    prev_end = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SourceDataError(f"{name}: unreadable CSV from line {prev_end + 1} ({exc}); "
                                  "check that line for an unbalanced double quote") from None
        end = reader.line_num
        yield CsvRecord(prev_end + 1, end, fields)
        prev_end = end


def raw_text(lines: list[str], line_no: int, end_line: int) -> str:
    """Original text of lines ``line_no..end_line`` (last terminator dropped; bad bytes, NUL as U+FFFD)."""
    text = "".join(lines[line_no - 1:end_line])
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith(("\n", "\r")):
        text = text[:-1]
    text = text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    return text.replace("\x00", "\ufffd")


def header_names(fields: list[str]) -> list[str]:
    """Header cells normalised for matching: BOM and surrounding whitespace removed, lower case."""
    return [f.replace("\ufeff", "").strip().lower() for f in fields]


def is_repeated_header(fields: list[str], header_key: list[str]) -> bool:
    """True when ``fields`` repeat the header (compared as :func:`header_names` does)."""
    return (len(fields) == len(header_key) and fields[0].strip().lower() == header_key[0]
            and header_names(fields) == header_key)


def repeats_known_header(fields: list[str], col: dict[str, int]) -> bool:
    """True when ``fields`` hold the known column names at their header positions (a repeated header row, even
    when the file gained columns that a later edit filled in on every row)."""
    return len(fields) > max(col.values()) and all(
        fields[i].replace("\ufeff", "").strip().lower() == name.lower() for name, i in col.items())


def unknown_columns(fields: list[str], required: tuple[str, ...]) -> list[str]:
    """Header names that are not among ``required`` (schema drift: loaded around, reported as a warning)."""
    known = {c.lower() for c in required}
    return [f.strip() for f in fields if f.replace("\ufeff", "").strip().lower() not in known]


def check_header(fields: list[str], required: tuple[str, ...], name: str, expected: str) -> dict[str, int]:
    """Map each required column to its index in the header; SourceDataError if any is missing."""
    names = header_names(fields)
    if any(SURROGATE.search(n) for n in names):
        raise SourceDataError(f"{name}: the header line is not UTF-8 text; expected {expected}")
    index = {n: i for i, n in reversed(list(enumerate(names)))}  # first occurrence wins
    missing = [c for c in required if c.lower() not in index]
    if len(missing) == len(required):
        first = ",".join(fields)[:60]
        raise SourceDataError(f"{name}: not the expected CSV (first line {first!r}); expected {expected}")
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        raise SourceDataError(f"{name}: missing column(s) {listed}; expected {expected}")
    return {c: index[c.lower()] for c in required}
