"""Every named SQL statement the code loads exists in ``sql/``, and every ``.sql`` file there is loaded."""

from __future__ import annotations

import re
from pathlib import Path

from movrec_pipeline.embedders.sync import ITEM_QUERIES
from movrec_pipeline.ingest import audits

ROOT = Path(__file__).resolve().parents[1]
SQL = ROOT / "sql"
CALL = re.compile(r"""sqlfiles\.(?:load|composed)\(\s*f?["']([a-z_]+/[a-z0-9_{}.]+)["']""")


def loaded_names() -> set[str]:
    """Names in ``sqlfiles.load("stage/name")`` calls (package, benchmarks, tests), with those built at run time."""
    names: set[str] = set()
    for path in [p for d in ("movrec_pipeline", "bench", "movrec_pipeline_tests") for p in (ROOT / d).rglob("*.py")
                 if p != Path(__file__)]:
        names |= set(CALL.findall(path.read_text(encoding="utf-8")))
    names = {n for n in names if "{" not in n}
    names |= set(ITEM_QUERIES.values())  # sqlfiles.load(ITEM_QUERIES[kind])
    names |= {f"sources/{c.name}_orphans" for c in audits.CHECKS if c.orphans}  # f"sources/{check.name}_orphans"
    return names


def test_every_loaded_statement_exists() -> None:
    missing = sorted(n for n in loaded_names() if not (SQL / f"{n}.sql").is_file())
    assert not missing, f"loaded but not in sql/: {missing}"


def test_every_sql_file_is_loaded() -> None:
    files = {str(p.relative_to(SQL).with_suffix("")) for p in SQL.rglob("*.sql")}
    unused = sorted(files - loaded_names())
    assert not unused, f"sql/ files nothing loads: {unused}"


def test_sql_is_grouped_like_the_code() -> None:
    assert {p.name for p in SQL.iterdir() if p.is_dir()} <= {
        "sources", "embeddings", "indexes", "recommendations", "evaluation", "query", "warehouse"}
