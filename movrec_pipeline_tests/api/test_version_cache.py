"""The API's copy of the data versions: current through LISTEN/NOTIFY, equal to what the database answers, and
absent (callers read the database) while it cannot listen."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
import pytest

from movrec_pipeline.api.version_cache import VersionCache
from movrec_pipeline.query import data_versions
from movrec_pipeline.query.versions import select_versions
from movrec_pipeline.warehouse import fingerprints

pytestmark = pytest.mark.slow
ASSETS = ("movielens_user_recommendations/*", "movielens_movies", "no_such_asset", "zz_probe")


def _eventually(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 30  # only a broken listener reaches it
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_copy_follows_each_commit_and_selects_as_the_database_does(warehouse_url: str) -> None:
    cache = VersionCache(lambda: warehouse_url, wait_s=0.2)
    cache.start()
    try:
        assert _eventually(lambda: cache.current() is not None)
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            kept = fingerprints.recorded(conn, "movielens_movies")
            fingerprints.record(conn, "movielens_user_recommendations/b99", "v1")
            fingerprints.record(conn, "movielens_movies", "m1")
            fingerprints.record(conn, "zz_probe_asset", "f1")  # "zz_probe" is a name, not a prefix
            assert _eventually(lambda: cache.current().get("movielens_movies") == "m1")
            known = cache.current()
            assert select_versions(known, ASSETS) == data_versions(conn, ASSETS)
            assert "zz_probe_asset" not in select_versions(known, ASSETS)
            with conn.transaction():  # uncommitted: not announced, not seen
                fingerprints.record(conn, "movielens_movies", "m2")
                with psycopg.connect(warehouse_url, autocommit=True) as other:  # a later commit elsewhere is seen
                    fingerprints.record(other, "zz_probe_asset", "f2")
                assert _eventually(lambda: cache.current().get("zz_probe_asset") == "f2")
                assert cache.current()["movielens_movies"] == "m1"
            assert _eventually(lambda: cache.current()["movielens_movies"] == "m2")
            conn.execute("DELETE FROM movrec.asset_state WHERE asset IN "
                         "('movielens_user_recommendations/b99', 'zz_probe_asset')")
            assert _eventually(lambda: "zz_probe_asset" not in cache.current())
            if kept is None:
                conn.execute("DELETE FROM movrec.asset_state WHERE asset = 'movielens_movies'")
            else:
                fingerprints.record(conn, "movielens_movies", kept)
    finally:
        cache.stop()
    assert cache.current() is None


def test_without_a_database_to_listen_to_the_copy_stays_absent() -> None:
    cache = VersionCache(lambda: "postgresql://127.0.0.1:9/none?connect_timeout=1", retry_s=0.1)
    cache.start()
    try:
        assert _eventually(lambda: cache.attempts >= 2)  # it tried, failed, and tried again
        assert cache.current() is None
    finally:
        cache.stop()
