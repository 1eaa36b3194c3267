"""The sources' blocking checks: declared on each source asset (``check_specs``), evaluated by the load's own
audit of the staged tables, so Great Expectations runs once per load and a refused file never gets published."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from movrec_pipeline.defs.metadata import markdown_table
from movrec_pipeline.ingest import audits
from movrec_pipeline.ingest.gx_validation import Outcome


def check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    """Blocking specs of the checks of ``asset`` (``movielens``: those of its four tables)."""
    return [dg.AssetCheckSpec(c.name, asset=c.asset, blocking=True, description=c.description)
            for c in audits.checks_of(asset)]


def _outcome_table(outcomes: list[Outcome]) -> pd.DataFrame:
    return pd.DataFrame([{"expectation": o.expectation, "ok": "✅" if o.success else "❌",
                          "unexpected": o.unexpected, "examples": ", ".join(map(str, o.examples))}
                         for o in outcomes])


def audit_results(asset: str, report: audits.AuditReport) -> Iterator[dg.AssetCheckResult]:
    """One result per check of ``asset`` from the audit of its staged tables."""
    for check in audits.checks_of(asset):
        outcomes = report.results.get(check.name, [])
        failed = [o for o in outcomes if not o.success]
        yield dg.AssetCheckResult(
            check_name=check.name, asset_key=check.asset, passed=bool(outcomes) and not failed,
            severity=dg.AssetCheckSeverity.ERROR, metadata={
                "expectations": len(outcomes), "failed": len(failed), "audited": "staged table, before publishing",
                "results": dg.MetadataValue.md(markdown_table(_outcome_table(outcomes), max_rows=50, max_chars=80)),
            })


def unchanged_results(asset: str) -> Iterator[dg.AssetCheckResult]:
    """Results of a load that kept its published tables (same files): they passed when they were published."""
    for check in audits.checks_of(asset):
        yield dg.AssetCheckResult(check_name=check.name, asset_key=check.asset, passed=True,
                                  metadata={"audited": "when published (inputs unchanged since)"})
