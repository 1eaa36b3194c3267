"""Tests for movrec_pipeline.ingest.netflix_csv: the real Kaggle file and small broken files."""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from movrec_pipeline.core.errors import SourceDataError
from movrec_pipeline.ingest import netflix_csv as netflix
from movrec_pipeline.ingest.netflix_csv import (
    REQUIRED_COLUMNS,
    fix_mojibake,
    parse_date_added,
    parse_duration,
    parse_netflix_csv,
    split_list,
)

HEADER = ",".join(REQUIRED_COLUMNS)
GOOD_ROW = (
    's1,Movie,Dick Johnson Is Dead,Kirsten Johnson,,United States,"September 25, 2021",2020,PG-13,90 min,'
    'Documentaries,"As her father nears the end of his life, filmmaker Kirsten Johnson stages his death."'
)
SHOW_ROW = (
    's2,TV Show,Blood & Water,,"Ama Qamata, Khosi Ngema",South Africa,"September 24, 2021",2021,TV-MA,'
    '2 Seasons,"International TV Shows, TV Dramas","After crossing paths at a party, a teen suspects."'
)


def data_dir() -> Path:
    """The shared real-data directory: $MOVREC_DATA_DIR, else <workspace>/shared/data."""
    return Path(os.environ.get("MOVREC_DATA_DIR") or Path(__file__).resolve().parents[3] / "shared" / "data")


@pytest.fixture(scope="module")
def real() -> netflix.NetflixParseResult:
    path = data_dir() / "netflix_titles.csv"
    if not path.is_file():
        pytest.skip(f"real data not found at {path} (set MOVREC_DATA_DIR)")
    return parse_netflix_csv(path)


def write(tmp_path: Path, text: str | bytes, name: str = "netflix_titles.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def csv_text(*rows: str, bom: bool = False, eol: str = "\r\n") -> str:
    return ("\ufeff" if bom else "") + eol.join((HEADER, *rows)) + eol


# --- the real file --------------------------------------------------------------------------------------


def test_real_file_counts(real: netflix.NetflixParseResult) -> None:
    assert len(real.shows) == 8809
    assert len(real.quarantine) == 0
    assert real.header_rows_dropped == 2
    assert real.shows["show_id"].tolist()[:2] == ["s1", "s2"]
    assert real.shows["show_id"].iloc[-1] == "s8809"
    assert real.shows["show_id"].is_unique


def test_real_file_columns_and_dtypes(real: netflix.NetflixParseResult) -> None:
    shows = real.shows
    assert list(shows.columns) == list(netflix.SHOW_COLUMNS)
    for col in ("release_year", "duration_minutes", "seasons"):
        assert str(shows[col].dtype) == "Int64"
    assert set(shows["show_type"]) == {"Movie", "TV Show"}
    assert shows["release_year"].notna().all()
    assert all(isinstance(v, list) for col in ("cast_members", "countries", "listed_in") for v in shows[col])
    assert list(real.quarantine.columns) == ["line_no", "show_id", "reason", "raw"]


def test_real_file_duration_repaired(real: netflix.NetflixParseResult) -> None:
    shows = real.shows.set_index("show_id")
    for show_id, minutes in (("s5542", 74), ("s5795", 84), ("s5814", 66)):
        assert shows.at[show_id, "duration_minutes"] == minutes
        assert shows.at[show_id, "rating"] is None
    # every movie has minutes, every TV show has seasons
    movies = shows[shows["show_type"] == "Movie"]
    assert movies["duration_minutes"].notna().all()
    assert movies["seasons"].isna().all()
    tv = shows[shows["show_type"] == "TV Show"]
    assert tv["seasons"].notna().all()
    assert tv["duration_minutes"].isna().all()


def test_real_file_dates(real: netflix.NetflixParseResult) -> None:
    dates = real.shows["date_added"]
    assert dates.isna().sum() == 10
    assert all(isinstance(d, datetime.date) for d in dates.dropna())
    assert real.shows.set_index("show_id").at["s1", "date_added"] == datetime.date(2021, 9, 25)


def test_real_file_duplicate_titles_kept(real: netflix.NetflixParseResult) -> None:
    counts = real.shows["title"].value_counts()
    for title in ("15-Aug", "Feb-09", "22-Jul"):
        assert counts[title] == 2
    # a fourth pair appears once s6530's mojibake no-break space ('ConsequencesÂ\xa0') is repaired
    assert counts["Consequences"] == 2
    assert set(counts[counts > 1].index) == {"15-Aug", "Feb-09", "22-Jul", "Consequences"}


def test_real_file_text_cleanup(real: netflix.NetflixParseResult) -> None:
    shows = real.shows.set_index("show_id")
    # a line break inside a quoted title becomes a space
    assert shows.at["s8420", "title"] == "The Memphis Belle: A Story of a Flying Fortress"
    # mojibake repaired, the cast with lost characters ('?') kept as is
    assert shows.at["s7", "director"] == "Robert Cullen, José Luis Ucha"
    assert "Pavel K?íž" in shows.at["s8809", "cast_members"]
    assert not shows["title"].str.contains("Ã|â€", regex=True).any()


# --- value parsers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("September 25, 2021", datetime.date(2021, 9, 25)),
    (" September 25, 2021", datetime.date(2021, 9, 25)),
    ("25-Sep-21", datetime.date(2021, 9, 25)),
    ("2021-09-25", datetime.date(2021, 9, 25)),
    ("Sep 5, 2019", datetime.date(2019, 9, 5)),
    ("", None),
    ("  ", None),
    (None, None),
])
def test_parse_date_added(value: str | None, expected: datetime.date | None) -> None:
    assert parse_date_added(value) == expected


@pytest.mark.parametrize(
    "value", ["someday", "Septembre 25, 2021", "February 30, 2021", "2021-13-01", "25/09/2021"]
)
def test_parse_date_added_rejects(value: str) -> None:
    with pytest.raises(ValueError, match="unparseable date_added"):
        parse_date_added(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("90 min", (90, None)), ("1 Season", (None, 1)), ("3 Seasons", (None, 3)), ("", (None, None)),
    (None, (None, None)), (" 74 min ", (74, None)),
])
def test_parse_duration(value: str | None, expected: tuple[int | None, int | None]) -> None:
    assert parse_duration(value) == expected


def test_parse_duration_rejects() -> None:
    with pytest.raises(ValueError, match="unparseable duration"):
        parse_duration("long")


def test_split_list() -> None:
    assert split_list("A, B,  C") == ["A", "B", "C"]
    assert split_list(", South Korea, ") == ["South Korea"]
    assert split_list("Miguel Cohan, Miguel Cohan") == ["Miguel Cohan"]
    assert split_list("") == []
    assert split_list(None) == []


def test_fix_mojibake() -> None:
    assert fix_mojibake("JosÃ© Luis â€“ Indiaâ€™s") == "José Luis – India’s"
    assert fix_mojibake("José Jørgensen K?íž") == "José Jørgensen K?íž"
    assert fix_mojibake("plain") == "plain"


# --- small files ------------------------------------------------------------------------------------------


def test_bom_crlf_and_quoted_commas(tmp_path: Path) -> None:
    result = parse_netflix_csv(write(tmp_path, csv_text(GOOD_ROW, SHOW_ROW, bom=True)))
    assert len(result.shows) == 2
    assert result.quarantine.empty
    first, second = result.shows.to_dict("records")
    assert first["show_id"] == "s1"
    assert first["description"].startswith("As her father nears the end of his life,")
    assert first["cast_members"] == []
    assert first["countries"] == ["United States"]
    assert first["director"] == "Kirsten Johnson"
    assert first["duration_minutes"] == 90
    assert pd.isna(first["seasons"])
    assert second["seasons"] == 2
    assert pd.isna(second["duration_minutes"])
    assert second["director"] is None
    assert second["cast_members"] == ["Ama Qamata", "Khosi Ngema"]
    assert second["listed_in"] == ["International TV Shows", "TV Dramas"]


def test_lf_line_endings_without_bom(tmp_path: Path) -> None:
    result = parse_netflix_csv(write(tmp_path, csv_text(GOOD_ROW, eol="\n")))
    assert result.shows["show_id"].tolist() == ["s1"]


def test_repeated_header_rows_dropped(tmp_path: Path) -> None:
    result = parse_netflix_csv(write(tmp_path, csv_text(GOOD_ROW, HEADER, SHOW_ROW, HEADER, HEADER)))
    assert result.header_rows_dropped == 3
    assert result.shows["show_id"].tolist() == ["s1", "s2"]
    assert result.quarantine.empty


def test_extra_column_is_loaded_around_and_reported(tmp_path: Path) -> None:
    def drifted(row: str) -> str:
        return row + ",7.1"
    text = csv_text(drifted(GOOD_ROW), drifted(SHOW_ROW), HEADER + ",7.1", HEADER).replace(
        HEADER, HEADER + ",imdb_score", 1)
    result = parse_netflix_csv(write(tmp_path, text))
    assert result.shows["show_id"].tolist() == ["s1", "s2"]
    assert result.shows["description"].tolist()[0].endswith("stages his death.")
    assert result.header_rows_dropped == 2 and result.quarantine.empty
    assert result.unknown_columns == ("imdb_score",)


def test_columns_are_found_by_name_not_position(tmp_path: Path) -> None:
    names = list(REQUIRED_COLUMNS)
    order = [names.index("description"), *[i for i, n in enumerate(names) if n != "description"]]
    fields = next(csv.reader([GOOD_ROW]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([names[i] for i in order])
    writer.writerow([fields[i] for i in order])
    result = parse_netflix_csv(write(tmp_path, out.getvalue()))
    show = result.shows.iloc[0]
    assert (show["show_id"], show["title"], show["duration_minutes"]) == ("s1", "Dick Johnson Is Dead", 90)
    assert result.unknown_columns == ()


def test_duration_in_rating_column_repaired(tmp_path: Path) -> None:
    row = ('s5542,Movie,Louis C.K. 2017,Louis C.K.,Louis C.K.,United States,"April 4, 2017",2017,74 min,,'
           'Movies,Muses.')
    show = parse_netflix_csv(write(tmp_path, csv_text(row))).shows.iloc[0]
    assert show["duration_minutes"] == 74
    assert show["rating"] is None


def test_wrong_field_count_quarantined(tmp_path: Path) -> None:
    shifted = GOOD_ROW.replace("s1,", "s9,") + ",extra"
    short = "s10,Movie,Short row"
    result = parse_netflix_csv(write(tmp_path, csv_text(GOOD_ROW, shifted, short, SHOW_ROW)))
    assert result.shows["show_id"].tolist() == ["s1", "s2"]
    q = result.quarantine
    assert q["line_no"].tolist() == [3, 4]
    assert q["show_id"].tolist() == ["s9", "s10"]
    assert q["reason"].tolist() == ["expected 12 fields, got 13", "expected 12 fields, got 3"]
    assert q["raw"].tolist() == [shifted, short]


def test_non_utf8_record_quarantined_rest_loads(tmp_path: Path) -> None:
    bad = GOOD_ROW.replace("s1,", "s3,").replace("Kirsten", "Kirst\x00en").encode("utf-8")
    bad = bad.replace(b"\x00", b"\xe9")  # a lone Latin-1 'é' byte
    data = csv_text(GOOD_ROW).encode("utf-8") + bad + b"\r\n" + SHOW_ROW.encode("utf-8") + b"\r\n"
    result = parse_netflix_csv(write(tmp_path, data))
    assert result.shows["show_id"].tolist() == ["s1", "s2"]
    q = result.quarantine.iloc[0]
    assert (q["line_no"], q["show_id"], q["reason"]) == (3, "s3", "non-UTF-8 bytes")
    assert "Kirst\ufffden" in q["raw"]


def test_latin1_file_quarantines_only_bad_records(tmp_path: Path) -> None:
    row = GOOD_ROW.replace("Kirsten Johnson,", "Pedro Almodóvar,")
    result = parse_netflix_csv(write(tmp_path, csv_text(row, SHOW_ROW).encode("latin-1")))
    assert result.shows["show_id"].tolist() == ["s2"]
    assert result.quarantine["reason"].tolist() == ["non-UTF-8 bytes"]


def test_dates_in_other_formats(tmp_path: Path) -> None:
    rows = [GOOD_ROW.replace("s1,", f"s{i},").replace('"September 25, 2021"', value)
            for i, value in enumerate(['25-Sep-21', '2021-09-25', '" September 25, 2021"', ''], start=1)]
    shows = parse_netflix_csv(write(tmp_path, csv_text(*rows))).shows
    assert shows["date_added"].tolist()[:3] == [datetime.date(2021, 9, 25)] * 3
    assert shows["date_added"].iloc[3] is None


def test_unparseable_date_quarantined(tmp_path: Path) -> None:
    bad = GOOD_ROW.replace("s1,", "s7,").replace('"September 25, 2021"', "sometime in 2021")
    result = parse_netflix_csv(write(tmp_path, csv_text(bad, SHOW_ROW)))
    assert result.shows["show_id"].tolist() == ["s2"]
    q = result.quarantine.iloc[0]
    assert q["show_id"] == "s7"
    assert q["line_no"] == 2
    assert q["reason"].startswith("unparseable date_added 'sometime in 2021'")


def test_duplicate_show_id_keeps_first(tmp_path: Path) -> None:
    again = GOOD_ROW.replace("Dick Johnson Is Dead", "Another Title")
    result = parse_netflix_csv(write(tmp_path, csv_text(GOOD_ROW, SHOW_ROW, again)))
    assert result.shows["title"].tolist() == ["Dick Johnson Is Dead", "Blood & Water"]
    q = result.quarantine.iloc[0]
    assert (q["line_no"], q["show_id"]) == (4, "s1")
    assert q["reason"] == "duplicate show_id 's1' (first at line 2)"


def test_same_title_different_show_id_kept(tmp_path: Path) -> None:
    result = parse_netflix_csv(write(tmp_path, csv_text(GOOD_ROW, GOOD_ROW.replace("s1,", "s5,"))))
    assert result.shows["show_id"].tolist() == ["s1", "s5"]


@pytest.mark.parametrize(("change", "reason"), [
    (("s1,", ","), "empty show_id"),
    (("Dick Johnson Is Dead", ""), "empty title"),
    ((",2020,", ",20x0,"), "release_year '20x0' is not a year in 1880..2100"),
    ((",2020,", ",1700,"), "release_year '1700' is not a year in 1880..2100"),
    ((",2020,", ",,"), "release_year '' is not a year in 1880..2100"),
    (("Movie", "Film"), "unknown type 'Film'; expected 'Movie' or 'TV Show'"),
    (("90 min", "long"), "unparseable duration 'long'; expected e.g. '90 min' or '2 Seasons'"),
])
def test_bad_values_quarantined(tmp_path: Path, change: tuple[str, str], reason: str) -> None:
    result = parse_netflix_csv(write(tmp_path, csv_text(GOOD_ROW.replace(*change, 1), SHOW_ROW)))
    assert result.shows["show_id"].tolist() == ["s2"]
    assert result.quarantine["reason"].tolist() == [reason]


def test_multiline_record_line_numbers(tmp_path: Path) -> None:
    multi = GOOD_ROW.replace("s1,", "s3,").replace("Dick Johnson Is Dead", '"Dick Johnson\nIs Dead"')
    broken = "s4,Movie,Broken"
    result = parse_netflix_csv(write(tmp_path, csv_text(multi, broken, SHOW_ROW)))
    assert result.shows["title"].tolist() == ["Dick Johnson Is Dead", "Blood & Water"]
    assert result.quarantine["line_no"].tolist() == [4]  # the record above spans lines 2-3


def test_blank_lines_are_not_rows(tmp_path: Path) -> None:
    result = parse_netflix_csv(write(tmp_path, csv_text(GOOD_ROW, "", SHOW_ROW, "")))
    assert len(result.shows) == 2
    assert result.quarantine.empty


# --- fatal errors -----------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    message = r"put netflix_titles\.csv \(Kaggle shivamb/netflix-shows\) in "
    with pytest.raises(SourceDataError, match=message + re.escape(str(tmp_path)) + "$"):
        parse_netflix_csv(tmp_path / "netflix_titles.csv")


@pytest.mark.parametrize("content", [b"", b"\r\n", HEADER.encode() + b"\r\n", ("\ufeff" + HEADER).encode(),
                                     csv_text(HEADER, HEADER).encode()])
def test_empty_or_header_only(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(SourceDataError, match="no data rows") as info:
        parse_netflix_csv(write(tmp_path, content))
    assert "\n" not in str(info.value)


def test_missing_column(tmp_path: Path) -> None:
    header = HEADER.removesuffix(",description")
    path = write(tmp_path, header + "\r\n" + GOOD_ROW.rsplit(",", 1)[0] + "\r\n")
    with pytest.raises(SourceDataError, match=r"missing column\(s\) 'description'; expected the Kaggle "
                                              r"shivamb/netflix-shows header"):
        parse_netflix_csv(path)


def test_columns_in_other_order(tmp_path: Path) -> None:
    cols = list(REQUIRED_COLUMNS)
    row = "Desc,Dramas,1 Season,TV-14,2019,,,,,T,TV Show,s9"
    path = write(tmp_path, ",".join(reversed(cols)) + "\r\n" + row + "\r\n")
    show = parse_netflix_csv(path).shows.iloc[0]
    assert (show["show_id"], show["title"], show["seasons"], show["description"]) == ("s9", "T", 1, "Desc")


@pytest.mark.parametrize(("content", "message"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not CSV text"),
    (b"PK\x03\x04\x14\x00\x00\x00", "ZIP archive"),
    (b"\x1f\x8b\x08\x00", "gzip"),
    (("\ufeff" + HEADER).encode("utf-16"), "UTF-16"),
    (b"<!DOCTYPE html><html><body>Sign in to Kaggle</body></html>\n", "not the expected CSV"),
])
def test_not_csv_text(tmp_path: Path, content: bytes, message: str) -> None:
    with pytest.raises(SourceDataError, match=message) as info:
        parse_netflix_csv(write(tmp_path, content))
    assert "\n" not in str(info.value)
