"""The API's pieces without a database: ETags, API keys, problem bodies, the schema, the process supervisor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from movrec_pipeline.api import auth, etag, problems
from movrec_pipeline.cli.supervise import group_members
from movrec_pipeline.core.errors import MovrecError
from movrec_pipeline.core.settings import ApiSettings


def test_etags_are_strong_canonical_and_follow_the_data_versions() -> None:
    key = etag.request_key("GET", "/v1/browse", [("limit", "5"), ("genres", "Action")])
    assert key == etag.request_key("GET", "/v1/browse", [("genres", "Action"), ("limit", "5")])
    first = etag.tag(key, {"movielens_movies": "a", "movielens_ratings": "b"}, ["movielens_movies",
                                                                             "movielens_ratings"])
    assert first and first.startswith('"') and not first.startswith("W/")
    landed = etag.tag(key, {"movielens_movies": "a", "movielens_ratings": "c"}, ["movielens_movies",
                                                                              "movielens_ratings"])
    assert landed != first
    assert etag.tag(key, {"movielens_movies": "a"}, ["movielens_movies", "movielens_ratings"]) is None
    buckets = {"recs/b00": "x", "recs/b01": "y"}
    assert etag.tag(key, buckets, ["recs/*"]) != etag.tag(key, {**buckets, "recs/b01": "z"}, ["recs/*"])
    assert etag.tag(key, {}, ["recs/*"]) is None
    assert etag.matches(first, first) and etag.matches(f'"x", W/{first}', first) and etag.matches("*", first)
    assert not etag.matches(None, first) and not etag.matches('"other"', first)


def test_api_keys_are_digests_and_required_off_loopback() -> None:
    key, digest = auth.new_key()
    assert digest == auth.digest(key) and digest.startswith("sha256:") and key not in digest
    assert auth.parse_hashes(f" {digest} ,{digest.upper().replace('SHA256:', 'sha256:')}") == (digest, digest)
    with pytest.raises(MovrecError, match="MOVREC_API_KEY_HASHES: expected"):
        auth.parse_hashes("sha256:123")
    for host in ("127.0.0.1", "127.8.0.1", "::1", "localhost", "[::1]"):
        assert auth.is_loopback(host), host
        auth.check_binding(host, ())
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.org"):
        assert not auth.is_loopback(host), host
        with pytest.raises(MovrecError, match=f"would listen on {host} without API keys"):
            auth.check_binding(host, ())
        auth.check_binding(host, (digest,))


def test_the_app_refuses_to_serve_off_loopback_without_keys() -> None:
    from movrec_pipeline.api.app import create_app

    with pytest.raises(MovrecError, match="without API keys"):
        create_app(ApiSettings(host="0.0.0.0"))


def test_a_problem_body_follows_rfc_9457() -> None:
    body = json.loads(problems.body(404, "unknown customer 9999 (customer ids are 1–599)", "/v1/customers/9999/"
                                    "recommendations", slug="unknown-item"))
    assert body == {"type": "urn:movrec:problem:unknown-item", "title": "Unknown item", "status": 404,
                    "detail": "unknown customer 9999 (customer ids are 1–599)",
                    "instance": "/v1/customers/9999/recommendations"}
    assert json.loads(problems.body(405, "Method Not Allowed", "/x"))["type"] == "about:blank"


def test_the_schema_is_openapi_3_1_and_declares_every_problem() -> None:
    from movrec_pipeline.api.app import create_app

    _, digest = auth.new_key()
    for settings, auth_on in ((ApiSettings(), False), (ApiSettings(host="0.0.0.0", key_hashes=digest), True)):
        schema = create_app(settings).openapi()
        assert schema["openapi"].startswith("3.1")
        assert "Problem" in schema["components"]["schemas"]
        for path, methods in schema["paths"].items():
            for method, operation in methods.items():
                codes = set(operation["responses"])
                if path.startswith(("/v1/", "/movies/", "/api/")):
                    assert {"422", "500", "503"} <= codes, (method, path)
                    assert ("401" in codes) == auth_on, (method, path)
                    assert bool(operation.get("security")) == auth_on, (method, path)
                for code, response in operation["responses"].items():
                    if code.startswith(("4", "5")):
                        assert list(response["content"]) == [problems.MEDIA_TYPE], (method, path, code)


CHILD = textwrap.dedent("""
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # a grandchild, as dagster dev has
    time.sleep(600)
""")


def test_a_stop_signal_to_the_supervisor_stops_every_child_group(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    runner = tmp_path / "run.py"
    runner.write_text(textwrap.dedent(f"""
        import sys
        from movrec_pipeline.cli.supervise import supervise
        sys.exit(supervise([[sys.executable, {str(script)!r}], [sys.executable, {str(script)!r}]], grace_s=5))
    """))
    proc = subprocess.Popen([sys.executable, str(runner)], env={**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])})
    groups: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until both children started their grandchildren
        groups = sorted({_pgid(pid) for pid in _children_of(proc.pid)})
        if len(groups) == 2 and all(len(group_members(g)) == 2 for g in groups):
            break
        time.sleep(0.1)
    assert len(groups) == 2 and all(len(group_members(g)) == 2 for g in groups), groups
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert [group_members(g) for g in groups] == [[], []]


def _children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return -1
