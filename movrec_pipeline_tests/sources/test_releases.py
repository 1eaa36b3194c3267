"""MovieLens releases: choosing one, local MovieLens-format directories, verified downloads of published zips.

Downloads come from a loopback HTTP server serving zips in GroupLens's layout (members cut from the real
ml-latest-small files), with and without the ``<zip>.md5`` file GroupLens publishes beside each archive.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from movrec_pipeline.core.errors import SourceDataError
from movrec_pipeline.core.settings import SourceSettings
from movrec_pipeline.ingest import files
from movrec_pipeline_tests.conftest import data_dir

REAL = data_dir() / "ml-latest-small"


def release_zip(name: str, altered: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for table in files.MOVIELENS_TABLES:
            lines = (REAL / f"{table}.csv").read_bytes().splitlines(keepends=True)[:200]
            body = b"".join(lines)
            zf.writestr(f"{name}/{table}.csv", body.replace(b"Toy Story", b"Toy Storm") if altered else body)
    return buf.getvalue()


class Server:
    """name -> bytes over HTTP on loopback; anything else is a 404."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                body = outer.files.get(self.path.rsplit("/", 1)[-1])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/datasets/movielens"


@pytest.fixture
def grouplens(monkeypatch) -> Iterator[Server]:
    server = Server()
    monkeypatch.setattr(files, "GROUPLENS", server.base)
    yield server
    server.httpd.shutdown()


def test_every_published_release_can_be_verified() -> None:
    assert set(files.RELEASES) == {"ml-latest-small", "ml-latest", "ml-25m", "ml-32m"}
    for release in files.RELEASES.values():
        specs = release.files()
        assert all(s.url == f"{files.GROUPLENS}/{release.name}.zip" for s in specs.values())
        # a published archive checksum, a checksum per file, or (ml-latest, which changes) the .md5 beside it
        assert release.archive_md5 or all(s.sha256 for s in specs.values()) or release.name == "ml-latest"
        assert set(release.floors) == set(files.MOVIELENS_TABLES)
    assert files.movielens_release("", Path("/nowhere")).name == "ml-latest-small"  # the default


def test_release_names_and_local_directories(tmp_path: Path, monkeypatch) -> None:
    from movrec_pipeline.defs.resources import SourcesResource

    monkeypatch.setenv("MOVREC_MOVIELENS", "ml-32m")
    assert SourcesResource(**SourceSettings.env_values()).release().floors["ratings"] == 30_400_000
    own = tmp_path / "my-ratings"
    own.mkdir()
    (own / "ratings.csv").write_text("userId,movieId,rating,timestamp\n")
    local = files.movielens_release("my-ratings", tmp_path)
    assert not local.published and local.url is None and local.floors == files.LOCAL_FLOORS
    with pytest.raises(SourceDataError, match=r"^MOVREC_MOVIELENS='ml-100k' is neither a MovieLens release "
                                              r"\(ml-latest-small, ml-latest, ml-25m, ml-32m\) nor a directory"):
        files.movielens_release("ml-100k", tmp_path)
    with pytest.raises(SourceDataError, match="neither"):
        files.movielens_release("../my-ratings", tmp_path / "x")  # never a path outside the data directory


def md5_file(archive: bytes) -> bytes:
    """What GroupLens publishes as ``<zip>.md5``."""
    return f"{hashlib.md5(archive).hexdigest()}  ml-test.zip\n".encode()


def _release(name: str, archive: bytes | None) -> files.MovieLensRelease:
    md5 = hashlib.md5(archive).hexdigest() if archive else None
    return files.MovieLensRelease(name, md5, {}, files.LOCAL_FLOORS)


def test_archive_with_its_published_md5_is_downloaded_once(grouplens: Server, tmp_path: Path) -> None:
    grouplens.files["ml-test.zip"] = release_zip("ml-test")
    release = _release("ml-test", grouplens.files["ml-test.zip"])
    got = files.locate_all(release.files(), tmp_path / "data", tmp_path / "cache")
    assert {t: p.read_bytes() for t, p in got.items()} == {
        t: b"".join((REAL / f"{t}.csv").read_bytes().splitlines(keepends=True)[:200]) for t in got}


def test_archive_not_matching_the_published_md5_is_refused(grouplens: Server, tmp_path: Path) -> None:
    good = release_zip("ml-test")
    grouplens.files["ml-test.zip"] = release_zip("ml-test", altered=True)
    with pytest.raises(SourceDataError, match=r"^cannot download ml-test/movies\.csv .*md5") as err:
        files.locate_all(_release("ml-test", good).files(), tmp_path / "data", tmp_path / "cache")
    assert "\n" not in str(err.value)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]  # nothing kept


def test_release_without_a_checksum_is_verified_against_the_md5_beside_it(grouplens: Server, tmp_path: Path
                                                                         ) -> None:
    archive = release_zip("ml-test")
    grouplens.files["ml-test.zip"] = archive
    release = _release("ml-test", None)  # as ml-latest: nothing known in advance
    with pytest.raises(SourceDataError, match=r"cannot download .*404"):  # no .md5 published: refused
        files.locate_all(release.files(), tmp_path / "data", tmp_path / "cache")
    grouplens.files["ml-test.zip.md5"] = md5_file(release_zip("ml-test", altered=True))
    with pytest.raises(SourceDataError, match="md5"):  # .md5 of another archive: refused
        files.locate_all(release.files(), tmp_path / "data", tmp_path / "cache")
    grouplens.files["ml-test.zip.md5"] = md5_file(archive)
    got = files.locate_all(release.files(), tmp_path / "data", tmp_path / "cache")
    assert sorted(got) == sorted(files.MOVIELENS_TABLES) and all(p.stat().st_size > 0 for p in got.values())


@pytest.mark.parametrize("form", ["gz", "zip", "stem-zip"])
def test_a_compressed_copy_beside_the_data_is_read(form: str, tmp_path: Path) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    original = (data_dir() / "netflix_titles.csv").read_bytes()
    if form == "gz":
        (data / "netflix_titles.csv.gz").write_bytes(gzip.compress(original))
    else:
        name = "netflix_titles.csv.zip" if form == "zip" else "netflix_titles.zip"
        with zipfile.ZipFile(data / name, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("netflix_titles.csv", original)
    path = files.locate(files.NETFLIX, data, cache, allow_download=False)
    assert path.read_bytes() == original and files.sha256_of(path) == files.NETFLIX.sha256
    assert files.locate(files.NETFLIX, data, cache, allow_download=False) == path  # decompressed once


def test_a_damaged_compressed_copy_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    (data / "netflix_titles.csv.gz").write_bytes(gzip.compress((data_dir() / "netflix_titles.csv").read_bytes())[:-100])
    with pytest.raises(SourceDataError) as info:
        files.locate(files.NETFLIX, data, cache, allow_download=False)
    assert "netflix_titles.csv.gz: cannot decompress it" in str(info.value) and "\n" not in str(info.value)
    assert not [p for p in cache.rglob("*") if p.is_file()]
