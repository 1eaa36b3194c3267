"""Locating the source files: the configured data directory first, then a verified download cache (pooch)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pooch

from movrec_pipeline.core.errors import SourceDataError

pooch.get_logger().setLevel("WARNING")  # no "Downloading file …" lines of its own: our errors say what failed

DVDRENTAL_URL = "https://neon.tech/postgresqltutorial/dvdrental.zip"
# Far above any source file (the largest is ~3 MB): a bigger member is not the published file, and
# extracting it unbounded (a zip bomb, or a wrong archive) could fill the disk before the checksum runs.
MAX_MEMBER_BYTES = 2 << 30  # ML-32M's ratings.csv is 877 MB


@dataclass(frozen=True)
class DataFile:
    """A file the pipeline reads, relative to the data directory, with its published checksum."""

    relpath: str
    sha256: str
    url: str | None  # archive that contains the file, or None when it cannot be downloaded
    member: str | None = None  # path of the file inside that zip archive
    archive_hash: str | None = None  # published checksum of the archive itself ("md5:…"), when there is one
    hint: str = ""


DVDRENTAL = DataFile(
    "dvdrental.tar", "c3f710b7f13f7161ce8137803425e9de9b22fcdb779848b592d82b914426aa29",
    DVDRENTAL_URL, "dvdrental.tar",
)
NETFLIX = DataFile(
    "netflix_titles.csv", "92cc5f4c19ab88f07121c45baf1141e732ee44a24ad04db15a434b0ca4f885ac", None,
    hint="download it from Kaggle (dataset shivamb/netflix-shows, needs an account)",
)
GROUPLENS = "https://files.grouplens.org/datasets/movielens"
MOVIELENS_TABLES = ("movies", "ratings", "links", "tags")


@dataclass(frozen=True)
class MovieLensRelease:
    """A GroupLens MovieLens release: ``<name>/{movies,ratings,links,tags}.csv`` in ``<name>.zip``."""

    name: str
    archive_md5: str | None  # GroupLens's <name>.zip.md5; None: read it beside the zip (ml-latest changes)
    checksums: dict[str, str]  # table -> "sha256:…" / "md5:…" of the file inside, where published
    floors: dict[str, int]  # the audit's row-count floors per table (about 95 % of the release's counts)

    @property
    def url(self) -> str:
        return f"{GROUPLENS}/{self.name}.zip"

    def files(self) -> dict[str, DataFile]:
        return {table: DataFile(f"{self.name}/{table}.csv", self.checksums.get(table, ""), self.url,
                                f"{self.name}/{table}.csv",
                                archive_hash=f"md5:{self.archive_md5}" if self.archive_md5 else None)
                for table in MOVIELENS_TABLES}


RELEASES = {r.name: r for r in (
    MovieLensRelease("ml-latest-small", None, {
        "movies": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        "ratings": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
        "links": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
        "tags": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
    }, {"movies": 9_000, "ratings": 100_000, "links": 9_000, "tags": 1_000}),
    MovieLensRelease("ml-latest", None, {},
                     {"movies": 50_000, "ratings": 20_000_000, "links": 50_000, "tags": 500_000}),
    MovieLensRelease("ml-25m", "6b51fb2759a8657d3bfcbfc42b592ada", {},
                     {"movies": 59_000, "ratings": 23_700_000, "links": 59_000, "tags": 1_030_000}),
    MovieLensRelease("ml-32m", "d472be332d4daa821edc399621853b57", {
        "movies": "md5:0df90835c19151f9d819d0822e190797", "ratings": "md5:cf12b74f9ad4b94a011f079e26d4270a",
        "links": "md5:8f033867bcb4e6be8792b21468b4fa6e", "tags": "md5:963bf4fa4de6b8901868fddd3eb54567",
    }, {"movies": 83_000, "ratings": 30_400_000, "links": 83_000, "tags": 1_900_000}),
)}
DEFAULT_RELEASE = "ml-latest-small"


def movielens_release(name: str | None = None) -> MovieLensRelease:
    """The release ``MOVREC_MOVIELENS`` names (default ml-latest-small)."""
    name = name or os.environ.get("MOVREC_MOVIELENS") or DEFAULT_RELEASE
    if name not in RELEASES:
        raise SourceDataError(f"MOVREC_MOVIELENS={name!r} is not a MovieLens release this pipeline knows: "
                              f"use one of {', '.join(RELEASES)}")
    return RELEASES[name]


MOVIELENS = RELEASES[DEFAULT_RELEASE].files()
MOVIELENS_URL = RELEASES[DEFAULT_RELEASE].url


def matches(path: Path, checksum: str) -> bool:
    """Whether ``path`` has ``checksum`` ("md5:<hex>" or a sha256 hex digest); an empty checksum: yes."""
    if not checksum:
        return True
    if checksum.startswith("md5:"):
        return file_digest(path, "md5") == checksum[4:].lower()
    return sha256_of(path) == checksum.removeprefix("sha256:")


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate(
    spec: DataFile, data_dir: Path, cache_dir: Path, *, allow_download: bool = True, alternatives: tuple[str, ...] = ()
) -> Path:
    """Path of ``spec``: in ``data_dir`` (as given, any content), else in the cache (verified), else downloaded.

    ``alternatives`` are other names accepted in ``data_dir`` (e.g. ``dvdrental.zip``).
    """
    for name in (spec.relpath, *alternatives):
        candidate = data_dir / name
        if candidate.is_file():
            return candidate
    cached = cache_dir / spec.relpath
    if cached.is_file() and spec.sha256 and matches(cached, spec.sha256):
        return cached
    if spec.url is None or not allow_download:
        how = spec.hint or f"or allow downloads from {spec.url}"
        raise SourceDataError(f"{spec.relpath} not found: put it in {data_dir} (set MOVREC_DATA_DIR); {how}")
    return download(spec, cache_dir)


DVDRENTAL_NAMES = ("dvdrental.tar", "dvdrental.zip", "dvdrental.dump", "dvdrental.backup", "dvdrental")


def find_dvdrental(data_dir: Path, cache_dir: Path, *, allow_download: bool = True) -> Path:
    """The dvdrental archive: ``$MOVREC_DVDRENTAL_ARCHIVE``, else the first of ``dvdrental.{tar,zip,dump,backup}``
    or a directory-format dump ``dvdrental/`` in ``data_dir`` (its format is read from its bytes later),
    else the verified download."""
    named = os.environ.get("MOVREC_DVDRENTAL_ARCHIVE")
    if named:
        path = Path(named).expanduser()
        if not path.exists():
            raise SourceDataError(f"MOVREC_DVDRENTAL_ARCHIVE names {path}, which does not exist")
        return path
    for name in DVDRENTAL_NAMES:
        candidate = data_dir / name
        if candidate.is_file() or (candidate.is_dir() and (candidate / "toc.dat").is_file()):
            return candidate
    return locate(DVDRENTAL, data_dir, cache_dir, allow_download=allow_download)


def locate_all(specs: dict[str, DataFile], data_dir: Path, cache_dir: Path, *,
               allow_download: bool = True) -> dict[str, Path]:
    """:func:`locate` for files of one archive: what is missing is fetched with a single download."""
    found: dict[str, Path] = {}
    missing: dict[str, DataFile] = {}
    for name, spec in specs.items():
        try:
            found[name] = locate(spec, data_dir, cache_dir, allow_download=False)
        except SourceDataError:
            missing[name] = spec
    if missing:
        first = next(iter(missing.values()))
        if first.url is None or not allow_download:
            locate(first, data_dir, cache_dir, allow_download=False)  # raises the usual "not found"
        found.update(zip(missing, download_all(list(missing.values()), cache_dir), strict=True))
    return found


def download(spec: DataFile, cache_dir: Path) -> Path:
    """Fetch ``spec.url`` (a zip), extract ``spec.member`` and keep it only if its checksum matches."""
    return download_all([spec], cache_dir)[0]


def download_all(specs: list[DataFile], cache_dir: Path) -> list[Path]:
    """One download of the zip the specs share (verified against its published checksum when there is one),
    each member extracted and kept under its real name only if its own checksum matches."""
    url = specs[0].url
    assert url and all(s.url == url and s.member for s in specs)
    try:
        with tempfile.TemporaryDirectory(dir=_made(cache_dir)) as tmp:
            archive_hash = specs[0].archive_hash
            if archive_hash is None and not all(s.sha256 for s in specs):  # nothing else to trust: its .md5
                archive_hash = _published_md5(url, Path(tmp))
            archive = Path(pooch.retrieve(url, known_hash=archive_hash, fname="archive.zip", path=tmp,
                                          downloader=pooch.HTTPDownloader(timeout=60), progressbar=False))
            targets = []
            for spec in specs:
                target = cache_dir / spec.relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                member = Path(tmp) / "member"
                extract_member(archive, spec.member, member)
                if not matches(member, spec.sha256):
                    got = file_digest(member, "md5") if spec.sha256.startswith("md5:") else sha256_of(member)
                    kind = "md5" if spec.sha256.startswith("md5:") else "sha256"
                    expected = spec.sha256.removeprefix("md5:")
                    raise SourceDataError(
                        f"{spec.relpath} from {url} has {kind} {got[:12]}…, expected {expected[:12]}…: "
                        "the published file changed; put a trusted copy in MOVREC_DATA_DIR"
                    )
                os.replace(member, target)  # atomic: never a half-written file under the real name
                targets.append(target)
    except (OSError, ValueError) as exc:  # requests' errors are OSErrors; pooch raises ValueError for a bad hash
        detail = " ".join(str(exc).split())  # one line, whatever the server sent
        raise SourceDataError(
            f"cannot download {specs[0].relpath} into {cache_dir} ({exc.__class__.__name__}: {detail}); "
            f"check the network and free space, or put the file in MOVREC_DATA_DIR"
        ) from None
    return targets


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _published_md5(url: str, tmp: Path) -> str:
    """``md5:<hex>`` from the ``<url>.md5`` file GroupLens publishes beside each zip (refuses without one)."""
    text = Path(pooch.retrieve(url + ".md5", known_hash=None, fname="archive.md5", path=tmp,
                               downloader=pooch.HTTPDownloader(timeout=30), progressbar=False)).read_text()
    token = text.split()[0] if text.split() else ""
    if len(token) != 32:
        raise SourceDataError(f"{url}.md5 holds no md5 checksum: cannot verify {url}; put the files in "
                              "MOVREC_DATA_DIR")
    return f"md5:{token.lower()}"


def extract_member(archive: Path, member: str, out: Path) -> None:
    """Copy ``member`` (matched by its base name if the path differs) out of a zip archive."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n == member or n.rsplit("/", 1)[-1] == member.rsplit("/", 1)[-1]]
            if not names:
                raise SourceDataError(f"{archive.name} does not contain {member}")
            limit = MAX_MEMBER_BYTES
            too_big = SourceDataError(f"{names[0]} in {archive.name} is larger than {limit:,} bytes: not the "
                                      "published file; put a trusted copy in MOVREC_DATA_DIR")
            if zf.getinfo(names[0]).file_size > limit:
                raise too_big
            with zf.open(names[0]) as src, out.open("wb") as dst:
                copied = 0
                for block in iter(lambda: src.read(1 << 20), b""):
                    copied += len(block)
                    if copied > limit:  # the header's size may lie
                        raise too_big
                    dst.write(block)
    except zipfile.BadZipFile:
        raise SourceDataError(f"{archive.name} is not a valid zip archive: download it again") from None
