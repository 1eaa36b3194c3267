"""What every source must satisfy: checked on the staged tables before they are published (the audit of
write–audit–publish); the results are the source assets' blocking asset checks.

Each check is Great Expectations run inside PostgreSQL on one table (GX's SQL datasource, a table asset: a scan
per metric, nothing transferred but the metrics), plus a one-row query counting orphans (rows whose parent is
missing), which must be 0. The audit adds the shrink guard: a load may not remove more than ``max_shrink`` of a
published table's rows unless the user says so. No Dagster here: the source assets turn each check's outcomes
into the result of a blocking asset check (``check_specs``), so GX runs once per load, on the staged table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import psycopg

from movrec_pipeline.ingest import gx_validation as gx
from movrec_pipeline.ingest.gx_validation import Expect
from movrec_pipeline.warehouse import connection, publish, sqlfiles

TRUE = frozenset({True})
DEFAULT_MAX_SHRINK = 0.05
PUBLISHED: dict[str, tuple[str, str]] = {
    "film": ("dvdrental", "film"), "rental": ("dvdrental", "rental"), "inventory": ("dvdrental", "inventory"),
    "customer": ("dvdrental", "customer"), "shows": ("netflix", "shows"), "movies": ("movielens", "movies"),
    "ratings": ("movielens", "ratings"), "links": ("movielens", "links"), "tags": ("movielens", "tags"),
}


@dataclass(frozen=True)
class SourceCheck:
    """One named validation of a source asset: expectations on one table, plus orphan counts.

    ``table`` is the placeholder of the table whose columns the expectations look at (GX reads it as a table
    asset: one scan per metric, no join); ``orphans`` names ``sql/sources/<name>_orphans.sql``, a one-row query
    of counts (rows pointing at a missing parent) that must all be 0.
    """

    name: str
    asset: str
    table: str
    expectations: tuple[Expect, ...]
    description: str
    orphans: tuple[str, ...] = ()  # columns of the orphan query, each expected to be 0
    tables: tuple[str, ...] = ()  # placeholders of the orphan query
    floor: str | None = None  # MovieLens table whose row-count floor comes from the active release


ZERO = 0
CHECKS: tuple[SourceCheck, ...] = (
    SourceCheck("dvdrental_films_valid", "dvdrental", "film", (
        Expect("unique", "film_id"), Expect("not_null", "film_id"), Expect("not_null", "title"),
        Expect("between", "rental_rate", 0, 100), Expect("between", "release_year", 1900, 2100),
        Expect("row_count_between", min_value=1000)),
        "Films: unique non-null ids, titles present, sane rental rates and years, at least 1,000 rows."),
    SourceCheck("dvdrental_rentals_valid", "dvdrental", "rental", (
        Expect("unique", "rental_id"), Expect("row_count_between", min_value=16000)),
        "Rentals: unique ids; every rental points at known inventory, customer and film; at least 16,000.",
        orphans=("unknown_inventory", "unknown_customer", "unknown_film"),
        tables=("rental", "inventory", "customer", "film")),
    SourceCheck("netflix_titles_valid", "netflix_titles", "shows", (
        Expect("unique", "show_id"), Expect("not_null", "show_id"), Expect("not_null", "title"),
        Expect("in_set", "show_type", value_set=frozenset({"Movie", "TV Show"})),
        Expect("between", "release_year", 1900, 2100), Expect("between", "duration_minutes", 1, 1000),
        Expect("between", "seasons", 1, 100), Expect("row_count_between", min_value=8000)),
        "Shows: unique ids and titles, known types, plausible years/durations, at least 8,000 rows."),
    SourceCheck("movielens_movies_valid", "movielens_movies", "movies", (
        Expect("unique", "movie_id"), Expect("not_null", "title"), Expect("between", "year", 1870, 2100),
        Expect("row_count_between", min_value=9000)),
        "Movies: unique ids, titles present, years in range, at least the release's floor (9,000 for "
        "ml-latest-small).", floor="movies"),
    SourceCheck("movielens_ratings_valid", "movielens_ratings", "ratings", (
        Expect("not_null", "user_id"), Expect("between", "rating", 0.5, 5.0),
        Expect("row_count_between", min_value=100000)),
        "Ratings: 0.5–5.0, every rating points at a known movie, at least the release's floor (100,000 "
        "for ml-latest-small).", orphans=("unknown_movie",), tables=("ratings", "movies"), floor="ratings"),
    SourceCheck("movielens_links_valid", "movielens_links", "links", (
        Expect("unique", "movie_id"), Expect("row_count_between", min_value=9000)),
        "Links: one per movie, all pointing at known movies.", orphans=("unknown_movie",),
        tables=("links", "movies"), floor="links"),
    SourceCheck("movielens_tags_valid", "movielens_tags", "tags", (
        Expect("not_null", "tag"), Expect("row_count_between", min_value=1000)),
        "Tags: non-empty, all pointing at known movies.", orphans=("unknown_movie",), tables=("tags", "movies"),
        floor="tags"),
)
BY_NAME = {c.name: c for c in CHECKS}


def checks_of(asset: str) -> list[SourceCheck]:
    """The checks of a source asset (``movielens``: the four MovieLens tables')."""
    return [c for c in CHECKS if c.asset == asset or (asset == "movielens" and c.asset.startswith("movielens_"))]


def expectations(check: SourceCheck, floors: Mapping[str, int] | None = None) -> list[Expect]:
    """The check's expectations, with the row-count floor of the loaded MovieLens release where it has one."""
    if check.floor is None or floors is None:
        return list(check.expectations)
    floor = floors[check.floor]
    return [replace(e, min_value=floor) if e.kind == "row_count_between" else e for e in check.expectations]


def run_check(url: str, check: SourceCheck, tables: Mapping[str, tuple[str, str]] = PUBLISHED,
              floors: Mapping[str, int] | None = None) -> list[gx.Outcome]:
    """The check on ``tables`` (published ones by default): GX in PostgreSQL on the table, then the orphans."""
    engine_url = connection.sqlalchemy_url(url)
    outcomes = gx.validate_table(engine_url, *tables[check.table], expectations(check, floors), check.name)
    if check.orphans:
        composed = sqlfiles.composed(f"sources/{check.name}_orphans", **{t: tables[t] for t in check.tables})
        lines = [ln for ln in composed.as_string(None).splitlines() if not ln.lstrip().startswith("--")]
        query = "\n".join(lines).strip().rstrip(";")  # GX wants a bare SELECT: no comments, no semicolon
        zero = [Expect("between", column, 0, 0) for column in check.orphans]
        outcomes += gx.validate(engine_url, query, zero, f"{check.name}_orphans")
    return outcomes


@dataclass
class AuditReport:
    """What the audit of one load found: failed expectations, shrinking tables, the staged figures."""

    problems: list[str] = field(default_factory=list)
    staged_rows: dict[str, int] = field(default_factory=dict)
    published_rows: dict[str, int] = field(default_factory=dict)
    results: dict[str, list[gx.Outcome]] = field(default_factory=dict)  # check name -> its outcomes

    @property
    def passed(self) -> bool:
        return not self.problems

    def message(self, source: str) -> str:
        """One line: why the load was not published."""
        return (f"{source} not published, the published tables are unchanged: {'; '.join(self.problems)}")


def describe(outcome: gx.Outcome) -> str:
    """A failed expectation in a few words: what failed, how many rows, a few examples."""
    if outcome.observed is not None and not outcome.unexpected:
        return f"{outcome.expectation} failed (observed {outcome.observed})"
    examples = f", e.g. {', '.join(map(str, outcome.examples[:3]))}" if outcome.examples else ""
    return f"{outcome.expectation} failed ({outcome.unexpected:,} rows{examples})"


def shrink_problem(table: str, published: int, staged: int, max_shrink: float) -> str | None:
    """Why ``staged`` rows may not replace ``published`` ones, or None when the drop is within bounds."""
    if published == 0 or staged >= published * (1.0 - max_shrink):
        return None
    drop = 1.0 - staged / published
    return (f"{table} would shrink from {published:,} to {staged:,} rows (-{drop:.1%}, more than {max_shrink:.0%}); "
            "if that is intended set MOVREC_ALLOW_SHRINK=1 or run config allow_shrink: true")


def audit(conn: psycopg.Connection, url: str, asset: str, staged: Mapping[str, tuple[str, str]], *,
          allow_shrink: bool = False, max_shrink: float = DEFAULT_MAX_SHRINK,
          floors: Mapping[str, int] | None = None) -> AuditReport:
    """Every check of ``asset`` on the staged tables (others published), and the shrink guard per staged table.

    ``staged`` maps placeholders (``shows``, ``ratings`` …) to the staged tables standing in for them.
    """
    report = AuditReport()
    tables = {**PUBLISHED, **staged}
    for name, table in staged.items():
        report.staged_rows[name] = publish.row_count(conn, table)
        report.published_rows[name] = publish.row_count(conn, PUBLISHED[name])
        if not allow_shrink:
            problem = shrink_problem(".".join(PUBLISHED[name]), report.published_rows[name],
                                     report.staged_rows[name], max_shrink)
            if problem:
                report.problems.append(problem)
    for check in checks_of(asset):
        outcomes = run_check(url, check, tables, floors)
        report.results[check.name] = outcomes
        report.problems += [f"{check.name}: {describe(o)}" for o in outcomes if not o.success]
    return report
