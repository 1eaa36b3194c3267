"""Tests for movrec_pipeline.ingest.movielens_csv: the real ml-latest-small files and small broken files."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pandas as pd
import pytest

from movrec_pipeline.core.errors import SourceDataError
from movrec_pipeline.ingest.movielens_csv import (
    ParseResult,
    parse_links,
    parse_movies,
    parse_ratings,
    parse_tags,
    parse_title,
)

KNOWN = {1, 2, 3}
RATINGS_HEADER = "userId,movieId,rating,timestamp"


def data_dir() -> Path:
    """The shared real-data directory: $MOVREC_DATA_DIR, else <workspace>/shared/data."""
    return Path(os.environ.get("MOVREC_DATA_DIR") or Path(__file__).resolve().parents[3] / "shared" / "data")


def ml_dir() -> Path:
    path = data_dir() / "ml-latest-small"
    if not (path / "ratings.csv").is_file():
        pytest.skip(f"real MovieLens data not found in {path} (set MOVREC_DATA_DIR)")
    return path


@pytest.fixture(scope="module")
def real() -> dict[str, ParseResult]:
    path = ml_dir()
    movies = parse_movies(path / "movies.csv")
    known = set(movies.rows["movie_id"].astype(int))
    return {
        "movies": movies,
        "links": parse_links(path / "links.csv", known),
        "ratings": parse_ratings(path / "ratings.csv", known),
        "tags": parse_tags(path / "tags.csv", known),
    }


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def ratings_file(tmp_path: Path, *rows: str) -> Path:
    return write(tmp_path, "ratings.csv", "\r\n".join((RATINGS_HEADER, *rows)) + "\r\n")


# --- the real files ---------------------------------------------------------------------------------------


def test_real_counts(real: dict[str, ParseResult]) -> None:
    counts = {name: (len(r.rows), len(r.quarantine)) for name, r in real.items()}
    assert counts == {"movies": (9742, 0), "links": (9742, 0), "ratings": (100836, 0), "tags": (3683, 0)}


def test_real_columns_and_dtypes(real: dict[str, ParseResult]) -> None:
    def dtypes(name: str) -> dict[str, str]:
        return {c: str(t) for c, t in real[name].rows.dtypes.items()}

    assert dtypes("movies") == {"movie_id": "int64", "title": "object", "clean_title": "object",
                                "year": "Int64", "genres": "object"}
    assert dtypes("links") == {"movie_id": "int64", "imdb_id": "Int64", "tmdb_id": "Int64"}
    assert dtypes("ratings") == {"user_id": "int64", "movie_id": "int64", "rating": "float64",
                                 "rated_at": "datetime64[us, UTC]"}
    assert dtypes("tags") == {"user_id": "int64", "movie_id": "int64", "tag": "object",
                              "tagged_at": "datetime64[us, UTC]"}
    for result in real.values():
        assert list(result.quarantine.columns) == ["line_no", "key", "reason", "raw"]


def test_real_movies(real: dict[str, ParseResult]) -> None:
    movies = real["movies"].rows.set_index("movie_id")
    toy = movies.loc[1]
    assert (toy["title"], toy["clean_title"], toy["year"]) == ("Toy Story (1995)", "Toy Story", 1995)
    assert toy["genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert movies.loc[2571, "clean_title"] == "Matrix, The"
    assert movies["year"].isna().sum() == 12  # e.g. 'Babylon 5'
    assert (movies["genres"].map(len) == 0).sum() == 34  # '(no genres listed)'
    assert movies.loc[72641, "title"] == "Blind Side, The  (2009)"  # kept as in the file
    assert movies.loc[72641, "clean_title"] == "Blind Side, The"


def test_real_links_and_ratings(real: dict[str, ParseResult]) -> None:
    links = real["links"].rows.set_index("movie_id")
    assert (links.loc[1, "imdb_id"], links.loc[1, "tmdb_id"]) == (114709, 862)
    assert links["tmdb_id"].isna().sum() == 8
    ratings = real["ratings"].rows
    first = ratings.iloc[0]
    assert (first["user_id"], first["movie_id"], first["rating"]) == (1, 1, 4.0)
    assert first["rated_at"] == pd.Timestamp(964982703, unit="s", tz="UTC")
    assert set(ratings["rating"]) == {x / 2 for x in range(1, 11)}


def test_real_ratings_fast() -> None:
    path = ml_dir()
    known = set(parse_movies(path / "movies.csv").rows["movie_id"].astype(int))
    start = time.perf_counter()
    parse_ratings(path / "ratings.csv", known)
    assert time.perf_counter() - start < 1.0  # ~0.2 s on an idle machine


# --- parse_title -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("title", "expected"), [
    ("Toy Story (1995)", ("Toy Story", 1995)),
    ("From Dusk Till Dawn 2: Texas Blood Money (1999) ", ("From Dusk Till Dawn 2: Texas Blood Money", 1999)),
    ("Babylon 5", ("Babylon 5", None)),
    ("Matrix, The (1999)", ("Matrix, The", 1999)),
    ("Death Note: Desu nôto (2006–2007)", ("Death Note: Desu nôto", 2006)),
    ("Fawlty Towers (1975-1979)", ("Fawlty Towers", 1975)),
    ("City of Lost Children, The (Cité des enfants perdus, La) (1995)",
     ("City of Lost Children, The (Cité des enfants perdus, La)", 1995)),
    ("1917 (2019)", ("1917", 2019)),
    ("2001: A Space Odyssey (1968)", ("2001: A Space Odyssey", 1968)),
    ("Blind Side, The  (2009)", ("Blind Side, The", 2009)),
])
def test_parse_title(title: str, expected: tuple[str, int | None]) -> None:
    assert parse_title(title) == expected


# --- small files ------------------------------------------------------------------------------------------


def test_movies_quoted_titles_and_bad_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "movies.csv", "\ufeffmovieId,title,genres\r\n"
                 '1,"American President, The (1995)",Comedy|Drama|Romance\r\n'
                 "2,Babylon 5,(no genres listed)\r\n"
                 "x,Bad Id (2000),Drama\r\n"
                 "1,Duplicate (2001),Drama\r\n"
                 "3,,Drama\r\n"
                 "4,Too,Many,Fields\r\n")
    result = parse_movies(path)
    rows = result.rows.to_dict("records")
    assert rows[0] == {"movie_id": 1, "title": "American President, The (1995)",
                       "clean_title": "American President, The", "year": 1995,
                       "genres": ["Comedy", "Drama", "Romance"]}
    assert rows[1]["genres"] == []
    assert pd.isna(rows[1]["year"])
    q = result.quarantine
    assert q["line_no"].tolist() == [4, 5, 6, 7]
    assert q["key"].tolist() == ["x", "1", "3", "4"]
    assert q["reason"].tolist() == [
        "movieId 'x' is not an integer in 0..2147483647",
        "duplicate movieId 1: kept the first one (line 2)",
        "empty title",
        "expected 3 fields, got 4",
    ]
    assert q["raw"].iloc[3] == "4,Too,Many,Fields"


def test_links_unknown_movie_and_empty_tmdb(tmp_path: Path) -> None:
    path = write(tmp_path, "links.csv", "movieId,imdbId,tmdbId\r\n1,0114709,862\r\n2,0113497,\r\n"
                 "99,0000001,1\r\n3,tt0113228,abc\r\n")
    result = parse_links(path, KNOWN)
    assert result.rows["movie_id"].tolist() == [1, 2]
    assert pd.isna(result.rows["tmdb_id"].iloc[1])
    assert result.quarantine["reason"].tolist() == ["unknown movieId 99 (not in movies.csv)",
                                                     "tmdbId 'abc' is not an integer in 0..2147483647"]


def test_ratings_bad_values(tmp_path: Path) -> None:
    path = ratings_file(tmp_path, "1,1,4.0,964982703", "1,99,4.0,964982703", "1,2,5.5,964982703",
                        "1,3,0.3,964982703", "2,1,abc,964982703", "2,2,4.25,964982703", "2,3,,964982703",
                        "3,1,3.0,yesterday", "u,1,3.0,964982703")
    result = parse_ratings(path, KNOWN)
    assert result.rows[["user_id", "movie_id", "rating"]].values.tolist() == [[1, 1, 4.0]]
    q = result.quarantine
    assert q["line_no"].tolist() == list(range(3, 11))
    assert q["key"].tolist() == ["1,99", "1,2", "1,3", "2,1", "2,2", "2,3", "3,1", "u,1"]
    assert q["reason"].tolist() == [
        "unknown movieId 99 (not in movies.csv)",
        "rating '5.5' is outside 0.5..5.0",
        "rating '0.3' is outside 0.5..5.0",
        "rating 'abc' is not a number",
        "rating '4.25' is not a multiple of 0.5",
        "rating '' is not a number",
        "timestamp 'yesterday' is not a Unix time in seconds",
        "userId 'u' is not an integer in 0..2147483647",
    ]
    assert q["raw"].iloc[0] == "1,99,4.0,964982703"


def test_ratings_duplicate_pair_keeps_latest(tmp_path: Path) -> None:
    path = ratings_file(tmp_path, "1,1,4.0,2000", "1,2,3.0,1000", "1,1,2.5,1000", "1,1,5.0,1500")
    result = parse_ratings(path, KNOWN)
    assert result.rows[["movie_id", "rating"]].values.tolist() == [[1, 4.0], [2, 3.0]]
    assert result.rows["rated_at"].iloc[0] == pd.Timestamp(2000, unit="s", tz="UTC")
    q = result.quarantine
    assert q["line_no"].tolist() == [4, 5]
    assert set(q["reason"]) == {"duplicate rating for userId, movieId 1, 1: kept the latest one (line 2)"}


def test_ratings_slow_path_matches_fast_path(tmp_path: Path) -> None:
    # a repeated header and a non-UTF-8 record force the csv-module path; the good rows are unchanged
    data = (f"{RATINGS_HEADER}\r\n1,1,4.0,964982703\r\n{RATINGS_HEADER}\r\n".encode()
            + b"1,2,4.\xff,964982703\r\n\r\n2,3,\"3.5\",964982704\r\n")
    result = parse_ratings(write(tmp_path, "ratings.csv", data), KNOWN)
    assert result.rows[["user_id", "movie_id", "rating"]].values.tolist() == [[1, 1, 4.0], [2, 3, 3.5]]
    assert result.quarantine[["line_no", "reason"]].values.tolist() == [
        [3, "repeated header row"], [4, "non-UTF-8 bytes"]]
    assert result.quarantine["key"].tolist() == ["userId,movieId", "1,2"]
    assert result.quarantine["raw"].iloc[1] == "1,2,4.\ufffd,964982703"


def test_tags(tmp_path: Path) -> None:
    path = write(tmp_path, "tags.csv", 'userId,movieId,tag,timestamp\r\n2,1,funny,1445714994\r\n'
                 '2,1,"In Netflix queue, maybe",1445714996\r\n2,1,  ,1445714997\r\n2,42,funny,1445714998\r\n')
    result = parse_tags(path, KNOWN)
    assert result.rows["tag"].tolist() == ["funny", "In Netflix queue, maybe"]
    assert str(result.rows["tagged_at"].dtype) == "datetime64[us, UTC]"
    assert result.quarantine["reason"].tolist() == ["empty tag", "unknown movieId 42 (not in movies.csv)"]


# --- fatal errors -----------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    message = r"put ratings\.csv \(a MovieLens release from .*\) in " + re.escape(str(tmp_path)) + "$"
    with pytest.raises(SourceDataError, match=message):
        parse_ratings(tmp_path / "ratings.csv", KNOWN)


@pytest.mark.parametrize("content", [b"", RATINGS_HEADER.encode() + b"\r\n", b"\r\n\r\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(SourceDataError, match="no data rows"):
        parse_ratings(write(tmp_path, "ratings.csv", content), KNOWN)


def test_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.csv", "userId,movieId,timestamp\r\n1,1,964982703\r\n")
    message = r"ratings\.csv: missing column\(s\) 'rating'; expected the MovieLens"
    with pytest.raises(SourceDataError, match=message):
        parse_ratings(path, KNOWN)


def test_not_csv(tmp_path: Path) -> None:
    with pytest.raises(SourceDataError, match="not CSV text"):
        parse_movies(write(tmp_path, "movies.csv", b"\x00\x01\x02binary"))
