"""Download faults: read-only cache, disk full, half-written files, wrong checksums.

``files.download`` fetches a zip from a local HTTP server (127.0.0.1) serving archives built from the
real ``movies.csv``; the published sha256 decides what is kept. Whatever fails, nothing lands under the
real name, and a later normal download succeeds and is verified.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from movrec_pipeline.core.errors import SourceDataError
from movrec_pipeline.ingest import files
from movrec_pipeline_tests.reliability.conftest import FIGURES, MOVIES_MEMBER, PROJECT_DIR, movies_spec


@pytest.fixture
def cache() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="movrec-rel-cache-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def leftovers(cache: Path) -> list[str]:
    """Files anywhere under the cache (temporary download folders included)."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Mode 0555; as root (which ignores modes) also the immutable attribute, so writes really fail."""
    path.chmod(0o555)
    immutable = os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    if os.geteuid() == 0 and not immutable:
        path.chmod(0o755)
        pytest.skip("running as root without chattr: cannot make a directory read-only")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o755)


def test_download_is_verified_then_served_from_cache(archives, cache: Path) -> None:
    spec = movies_spec(archives.url("good.zip"))
    got = files.download(spec, cache)
    assert got == cache / MOVIES_MEMBER and files.sha256_of(got) == spec.sha256
    assert leftovers(cache) == [MOVIES_MEMBER]  # the temporary download folder is gone
    before = archives.requests
    assert files.locate(spec, cache / "no-data-dir", cache) == got and archives.requests == before


def test_half_written_file_under_the_real_name_is_not_taken(archives, cache: Path) -> None:
    spec = movies_spec(archives.url("good.zip"))
    target = cache / MOVIES_MEMBER
    target.parent.mkdir(parents=True)
    real = (Path(os.environ["MOVREC_DATA_DIR"]) / MOVIES_MEMBER).read_bytes()
    target.write_bytes(real[: len(real) // 2])  # what a crash mid-write without the atomic rename would leave
    before = archives.requests
    got = files.locate(spec, cache / "no-data-dir", cache)
    assert archives.requests == before + 1 and files.sha256_of(got) == spec.sha256
    FIGURES.fault("half-written download under the real name", True)


def test_wrong_checksum_is_rejected_and_the_good_copy_kept(archives, cache: Path) -> None:
    with pytest.raises(SourceDataError, match=r"has sha256 \w+…, expected 5a5f32dd9bb3…: the published file "
                                              "changed; put a trusted copy in MOVREC_DATA_DIR"):
        files.download(movies_spec(archives.url("altered.zip")), cache)
    assert leftovers(cache) == []  # nothing under the real name, no temporary files
    good = files.download(movies_spec(archives.url("good.zip")), cache)
    with pytest.raises(SourceDataError, match="has sha256"):
        files.download(movies_spec(archives.url("altered.zip")), cache)
    assert files.sha256_of(good) == files.MOVIELENS["movies"].sha256  # the verified copy is untouched
    FIGURES.fault("wrong-checksum archive", True)


def test_read_only_download_dir_fails_clearly_then_recovers(archives, cache: Path) -> None:
    spec = movies_spec(archives.url("good.zip"))
    with read_only(cache), pytest.raises(SourceDataError) as info:
        files.download(spec, cache)
    message = str(info.value)
    assert message.startswith(f"cannot download {MOVIES_MEMBER} into {cache} (PermissionError"), message
    assert "\n" not in message and leftovers(cache) == []
    assert files.sha256_of(files.download(spec, cache)) == spec.sha256  # writable again: works
    FIGURES.fault("read-only download directory", True)


DISK_FULL = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    from movrec_pipeline.ingest import files
    from movrec_pipeline.core.errors import SourceDataError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
    spec = files.DataFile(sys.argv[3], files.MOVIELENS["movies"].sha256, sys.argv[1], sys.argv[3])
    try:
        files.download(spec, Path(sys.argv[2]))
    except SourceDataError as exc:
        print(exc)
        sys.exit(3)
""")


def test_disk_full_during_download_fails_clearly_then_recovers(archives, cache: Path) -> None:
    spec = movies_spec(archives.url("good.zip"))
    proc = subprocess.run([sys.executable, "-c", DISK_FULL, spec.url, str(cache), MOVIES_MEMBER],
                          capture_output=True, text=True, timeout=60, cwd=PROJECT_DIR)
    assert proc.returncode == 3, proc.stderr[-2000:]
    message = proc.stdout.strip()
    assert message.startswith(f"cannot download {MOVIES_MEMBER} into {cache} (OSError: [Errno 27] File too large")
    assert "free space" in message and "\n" not in message
    assert leftovers(cache) == []  # the partial archive went with its temporary folder
    assert files.sha256_of(files.download(spec, cache)) == spec.sha256
    FIGURES.fault("disk full during download (RLIMIT_FSIZE)", True)
