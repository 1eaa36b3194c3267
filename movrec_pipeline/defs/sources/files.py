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

MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
DVDRENTAL_URL = "https://neon.tech/postgresqltutorial/dvdrental.zip"
# Far above any source file (the largest is ~3 MB): a bigger member is not the published file, and
# extracting it unbounded (a zip bomb, or a wrong archive) could fill the disk before the checksum runs.
MAX_MEMBER_BYTES = 1 << 30


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
_ML = "ml-latest-small"
MOVIELENS = {
    name: DataFile(f"{_ML}/{name}.csv", sha, MOVIELENS_URL, f"{_ML}/{name}.csv")
    for name, sha in {
        "movies": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        "ratings": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
        "links": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
        "tags": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
    }.items()
}


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
    if cached.is_file() and sha256_of(cached) == spec.sha256:
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


def download(spec: DataFile, cache_dir: Path) -> Path:
    """Fetch ``spec.url`` (a zip), extract ``spec.member`` and keep it only if its sha256 matches."""
    assert spec.url and spec.member
    target = cache_dir / spec.relpath
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            archive = Path(pooch.retrieve(spec.url, known_hash=spec.archive_hash, fname="archive.zip", path=tmp,
                                          downloader=pooch.HTTPDownloader(timeout=60), progressbar=False))
            extract_member(archive, spec.member, Path(tmp) / "member")
            got = sha256_of(Path(tmp) / "member")
            if got != spec.sha256:
                raise SourceDataError(
                    f"{spec.relpath} from {spec.url} has sha256 {got[:12]}…, expected {spec.sha256[:12]}…: "
                    "the published file changed; put a trusted copy in MOVREC_DATA_DIR"
                )
            os.replace(Path(tmp) / "member", target)  # atomic: never a half-written file under the real name
    except (OSError, ValueError) as exc:  # requests' errors are OSErrors; pooch raises ValueError for a bad hash
        detail = " ".join(str(exc).split())  # one line, whatever the server sent
        raise SourceDataError(
            f"cannot download {spec.relpath} into {cache_dir} ({exc.__class__.__name__}: {detail}); "
            f"check the network and free space, or put the file in MOVREC_DATA_DIR"
        ) from None
    return target


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
