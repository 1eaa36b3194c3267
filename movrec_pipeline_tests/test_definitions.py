"""The asset graph as a snapshot (keys, groups, deps, partitions, checks, kinds, owners), and the dg CLI.

An asset or check that disappears, moves group or loses a dependency fails here. After an intended change:
``python -m movrec_pipeline_tests.test_definitions --update`` rewrites ``asset_graph.json``; review its diff.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SNAPSHOT = Path(__file__).with_name("asset_graph.json")
PROJECT_DIR = Path(__file__).resolve().parents[1]


def graph_snapshot() -> dict[str, dict]:
    from movrec_pipeline.definitions import loaded

    graph = loaded().resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for key in graph.asset_check_keys:
        node = graph.get_check_spec(key)
        checks.setdefault(key.asset_key.to_user_string(), []).append(
            f"{key.name}{' (blocking)' if node.blocking else ''}")
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        name = key.to_user_string()
        partitions = node.partitions_def
        out[name] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": len(partitions.get_partition_keys()) if partitions else None,
            "checks": sorted(checks.get(name, [])),
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "code_version": node.code_version,
            "pool": (node.pools and sorted(node.pools)[0]) or None,
            "automation": node.automation_condition.get_label() if node.automation_condition else None,
        }
    return out


def test_asset_graph_matches_the_snapshot() -> None:
    expected = json.loads(SNAPSHOT.read_text())
    got = graph_snapshot()
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    assert not missing and not extra, f"assets missing: {missing}; new: {extra} (update the snapshot if intended)"
    changed = {k: (expected[k], got[k]) for k in expected if expected[k] != got[k]}
    assert not changed, json.dumps(changed, indent=1)


def test_every_asset_is_documented_and_owned() -> None:
    from movrec_pipeline.definitions import loaded

    graph = loaded().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description and node.owners == ["team:movrec"] and node.kinds, key
        assert node.code_version, key


@pytest.mark.slow
@pytest.mark.parametrize("command", [["check", "defs"], ["list", "defs", "--json"]])
def test_dg_cli_works_in_the_project_venv(command: list[str], tmp_path: Path) -> None:
    dg = Path(sys.executable).with_name("dg")
    done = subprocess.run([str(dg), *command], capture_output=True, text=True, cwd=PROJECT_DIR, timeout=300,
                          env={**__import__("os").environ, "DAGSTER_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    if "--json" in command:
        listed = {a["asset_key"] for a in json.loads(done.stdout)["assets"]}
        assert listed == set(json.loads(SNAPSHOT.read_text())), listed


if __name__ == "__main__" and "--update" in sys.argv:
    SNAPSHOT.write_text(json.dumps(graph_snapshot(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")


@pytest.mark.slow
def test_dg_launch_runs_on_the_project_instance(movrec_home: Path) -> None:
    """``eval "$(movrec env)"`` then ``dg launch --assets …``: the run lands in the instance ``movrec dev`` uses."""
    import os
    import shlex

    movrec = Path(sys.executable).with_name("movrec")
    exports = subprocess.run([str(movrec), "env"], capture_output=True, text=True, timeout=120, check=True).stdout
    env = dict(os.environ)
    for line in exports.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    assert env["DAGSTER_HOME"] == str(movrec_home / "dagster_home")
    dg = Path(sys.executable).with_name("dg")
    done = subprocess.run([str(dg), "launch", "--assets", "netflix_titles"], capture_output=True, text=True,
                          cwd=PROJECT_DIR, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stdout + done.stderr

    import dagster as dg_api

    os.environ.update(DAGSTER_HOME=env["DAGSTER_HOME"], MOVREC_DAGSTER_PG_URL=env["MOVREC_DAGSTER_PG_URL"])
    try:
        with dg_api.DagsterInstance.get() as instance:
            assert instance.get_latest_materialization_event(dg_api.AssetKey("netflix_titles")) is not None
    finally:
        os.environ.pop("DAGSTER_HOME", None)


def test_defs_holds_dagster_definitions_only() -> None:
    """Every module under defs/ imports Dagster (pure code lives in the libraries), and defs/ stays small."""
    defs = PROJECT_DIR / "movrec_pipeline" / "defs"
    modules = [p for p in defs.rglob("*.py") if p.name != "__init__.py"]
    without = [str(p.relative_to(defs)) for p in modules
               if not any(line.startswith(("import dagster", "from dagster")) for line in p.read_text().splitlines())]
    assert not without, f"modules under defs/ that do not use Dagster (move them to a library): {without}"
    lines = sum(len(p.read_text().splitlines()) for p in defs.rglob("*.py"))
    assert lines < 1500, f"defs/ has {lines} lines"
