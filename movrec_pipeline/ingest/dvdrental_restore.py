"""Restore the dvdrental sample database into schema ``dvdrental`` of the warehouse, atomically.

The archive is first restored into a scratch database (so a corrupt or wrong archive fails there),
its ``public`` schema renamed to ``dvdrental_next``, dumped, restored into the warehouse in a single
transaction, and swapped in place of ``dvdrental`` in one more transaction: readers see the old
complete schema or the new one, and a failure anywhere leaves the previous restore untouched.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from movrec_pipeline.core.errors import SourceDataError
from movrec_pipeline.warehouse import connection, sqlfiles

TABLES = ("film", "customer", "rental", "inventory")
LOCK_KEY = "movrec.dvdrental"


def archive_format(path: Path) -> str:
    """'zip', 'tar', 'custom' (by magic bytes) or 'directory' (pg_dump -Fd); SourceDataError for anything else."""
    if path.is_dir():
        if (path / "toc.dat").is_file():
            return "directory"
        raise SourceDataError(f"{path} is a directory but not a pg_dump directory-format dump (no toc.dat)")
    try:
        head = path.open("rb").read(512)
    except OSError as exc:
        raise SourceDataError(f"cannot read {path}: {exc.strerror}") from None
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:5] == b"PGDMP":
        return "custom"
    if len(head) >= 263 and head[257:262] == b"ustar":
        return "tar"
    raise SourceDataError(
        f"{path.name} is not a pg_dump archive (expected dvdrental.zip, a tar or a custom-format dump): "
        "download dvdrental.zip again"
    )


def unpack(path: Path, workdir: Path) -> Path:
    """The pg_restore-able file or directory: ``path`` itself, the dump inside a zip, or a tar dump re-packed
    under a folder (``dvdrental/toc.dat`` …) written out again with its members at the top, as pg_restore
    wants them."""
    fmt = archive_format(path)
    if fmt == "tar":
        return _flat_tar(path, workdir)
    if fmt != "zip":
        return path
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            members = [n for n in zf.namelist() if n.endswith((".tar", ".dump", ".backup"))]
            if not members:
                raise SourceDataError(f"{path.name} holds no .tar dump: expected dvdrental.tar inside")
            out = workdir / Path(members[0]).name
            out.write_bytes(zf.read(members[0]))
    except zipfile.BadZipFile:
        raise SourceDataError(f"{path.name} is a damaged zip archive: download it again") from None
    return unpack(out, workdir) if archive_format(out) == "tar" else out


def _flat_tar(path: Path, workdir: Path) -> Path:
    """``path`` when ``toc.dat`` is at its top; a copy without the folder when the dump sits in one folder; a
    one-line SourceDataError saying what the tar holds otherwise."""
    try:
        with tarfile.open(path) as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            names = [m.name.removeprefix("./") for m in members]
            if "toc.dat" in names:
                return path
            tocs = [n for n in names if n.rsplit("/", 1)[-1] == "toc.dat"]
            if len(tocs) != 1:
                listed = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
                raise SourceDataError(f"{path.name} is a tar archive but not a pg_dump tar dump: no toc.dat inside "
                                      f"(it holds {listed or 'nothing'}); expected the dvdrental.tar from "
                                      "dvdrental.zip")
            folder = tocs[0][: -len("toc.dat")]
            out = workdir / f"flat-{path.name}"
            with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as flat:
                for member, name in zip(members, names, strict=True):
                    if name.startswith(folder):
                        src = tar.extractfile(member)
                        member.name = name[len(folder):]
                        flat.addfile(member, src)
    except tarfile.TarError as exc:
        raise SourceDataError(f"{path.name} is a damaged tar archive ({exc}): download dvdrental.zip again") from None
    return out


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """URL without its password (for argv) and the environment that carries the password."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
        netloc = parts.netloc.replace(f":{parts.password}@", "@")
        url = urlunsplit(parts._replace(netloc=netloc))
    return url, env


def _run(program: str, args: list[str], url: str) -> None:
    target, env = libpq_target(url)
    proc = subprocess.run([program, *args, "-d", target], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln.lower()), proc.stderr.strip()[:300])
        raise SourceDataError(f"{Path(program).name} failed: {first.strip()}")


def counts(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    row = conn.execute(sqlfiles.composed("sources/dvdrental_counts", schema=schema)).fetchone()
    return dict(zip(TABLES, row, strict=True))


SCRATCH_PREFIX = "movrec_restore_"


def drop_stale_scratch(admin: psycopg.Connection) -> list[str]:
    """Drop scratch databases left by restores that died mid-way (a killed worker never runs its cleanup).

    Only call while holding the restore lock: every live restore holds it, so any scratch database seen
    then belongs to a dead one (WITH (FORCE) also ends an orphaned pg_restore still writing into it).
    """
    names = [r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                                         (SCRATCH_PREFIX,)).fetchall()]
    for name in names:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return names


NEXT_SCHEMA = "dvdrental_next"


def restore(archive: Path, warehouse_url: str, pg_restore: str, pg_dump: str,
            audit: Callable[[psycopg.Connection, str], None] | None = None) -> dict[str, int]:
    """Restore ``archive`` into schema ``dvdrental``; returns row counts of the main tables.

    ``audit(conn, "dvdrental_next")`` runs on the restored schema before the swap; when it raises, the
    restored schema is dropped and ``dvdrental`` stays exactly as it was.

    One restore at a time per server: a session advisory lock (in the maintenance database, so it is
    server-wide like the scratch databases) is held from start to end; it dies with a killed worker.
    """
    admin = connection.admin_url_for(warehouse_url)
    scratch = f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:8]}"
    scratch_url = urlunsplit(urlsplit(warehouse_url)._replace(path=f"/{scratch}"))
    with tempfile.TemporaryDirectory(prefix="movrec-restore-") as tmp, \
            psycopg.connect(admin, autocommit=True) as lock_conn:
        dump = unpack(archive, Path(tmp))
        lock_conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (LOCK_KEY,))
        try:
            drop_stale_scratch(lock_conn)
            connection.ensure_database(admin, scratch)
            try:
                _run(pg_restore, ["--no-owner", "--no-privileges", "--exit-on-error", str(dump)], scratch_url)
                with psycopg.connect(scratch_url, autocommit=True) as conn:
                    missing = [t for t in TABLES if conn.execute(
                        "SELECT to_regclass(%s)", (f"public.{t}",)).fetchone()[0] is None]
                    if missing:
                        raise SourceDataError(
                            f"{archive.name} restored but has no table(s) {', '.join(missing)}: "
                            "it is not the dvdrental sample database"
                        )
                    conn.execute("ALTER SCHEMA public RENAME TO dvdrental_next")
                moved = Path(tmp) / "next.dump"
                _run(pg_dump, ["-Fc", "-n", "dvdrental_next", "--no-owner", "-f", str(moved)], scratch_url)
            finally:
                lock_conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
            with psycopg.connect(warehouse_url, autocommit=True) as conn:
                conn.execute("DROP SCHEMA IF EXISTS dvdrental_next CASCADE")
                _run(pg_restore, ["--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
                                  str(moved)], warehouse_url)
                if audit is not None:
                    try:
                        audit(conn, NEXT_SCHEMA)
                    except BaseException:
                        conn.execute("DROP SCHEMA IF EXISTS dvdrental_next CASCADE")
                        raise
                with conn.transaction():
                    conn.execute(sqlfiles.load("sources/dvdrental_swap"))
                result = counts(conn, "dvdrental")
        finally:
            lock_conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (LOCK_KEY,))
    return result
