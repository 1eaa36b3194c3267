"""Terminal output of the query commands: ``rich`` tables (plain text when piped) and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import datetime
from decimal import Decimal

from rich import box
from rich.console import Console
from rich.table import Table

from movrec_pipeline.query.results import Explanation, Listing, Status

WIDTHS = {"title": 48, "genres": 34, "because": 64, "index": 52, "model": 32, "table": 42}
DECIMALS = {"your rating": 1}  # other floats: 3 decimals
PLAIN_WIDTH = 240  # when not writing to a terminal: wide enough that only the column caps cut text


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(result: object) -> str:
    data = asdict(result) if is_dataclass(result) else result
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)


def cell(value: object, decimals: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, float | Decimal):
        return f"{float(value):.{decimals}f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M %Z").strip()
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def table(headers: list[str], rows: list[list[object]]) -> Table:
    """Columns with a header rule; numbers right-aligned, long text cut to the column's width with an ellipsis."""
    out = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    for i, header in enumerate(headers):
        numeric = bool(rows) and all(isinstance(r[i], int | float | Decimal) or r[i] is None for r in rows)
        out.add_column(header, justify="right" if numeric else "left", no_wrap=True, overflow="ellipsis",
                       max_width=WIDTHS.get(header))
    for row in rows:
        out.add_row(*(cell(v, DECIMALS.get(h, 3)) for h, v in zip(headers, row, strict=True)))
    return out


def _listing(listing: Listing) -> list[object]:
    items = listing.items
    headers = ["#", "id", "title", "year"]
    if len({i.kind for i in items}) > 1:
        headers.append("kind")
    if any(i.score is not None for i in items):
        headers.append("score")
    extras = list(dict.fromkeys(key for i in items for key in i.extra))
    headers += [*extras, "genres"]
    if any(i.because for i in items):
        headers.append("because")
    rows = []
    for i in items:
        values = {"#": i.rank, "id": i.id, "title": i.title, "year": i.year, "kind": i.kind, "score": i.score,
                  "genres": i.genres, "because": i.because, **i.extra}
        rows.append([values.get(h) for h in headers])
    source = f"source: {listing.source}"
    if listing.generated_at:
        source += f" (generated {cell(listing.generated_at)})"
    parts: list[object] = [listing.title, source]
    if items:
        parts += ["", table([h.replace("_", " ") for h in headers], rows)]
    return parts + [f"note: {note}" for note in listing.notes]


def _explanation(e: Explanation) -> list[object]:
    show = e.show
    kind = f", {show.extra['type']}" if show.extra.get("type") else ""
    where = f"rank {e.table_rank} of the stored picks" if e.table_rank else "not among the stored picks"
    rows = [[rank, d.film_id, d.title, d.rentals, d.similarity] for rank, d in enumerate(e.drivers, 1)]
    return [f"Why {show.id} {show.title!r} ({show.year}{kind}) for customer {e.customer_id} ({e.customer})",
            f"profile cosine {e.profile_similarity:.3f}; {where}; {e.rentals} rentals, "
            f"{e.films_with_vectors} distinct films with vectors ({e.model})", "",
            table(["#", "film id", "rented film", "rentals", "cosine"], rows)]


def _status(s: Status) -> list[object]:
    parts: list[object] = [f"warehouse {s.database}; active text model: {s.active_model or 'none'}", ""]
    rows = [[r.source, r.model + (" *" if r.active else ""), r.items, r.vectors, f"{r.coverage_pct:.1f}%",
             f"{r.index_method} {r.index}" if r.index else "", r.last_materialized, r.materialized_from]
            for r in s.sources]
    parts.append(table(["source", "model", "items", "vectors", "coverage", "index", "last materialized", "from"],
                       rows))
    rows = [[t.asset, t.table, t.rows, t.last_materialized, t.materialized_from] for t in s.tables]
    parts += ["", table(["asset", "table", "rows", "last materialized", "from"], rows)]
    if s.quality:
        parts += ["", f"quality (offline evaluation of {cell(s.quality[0]['evaluated_at'])}):"]
        keys = ["protocol", "method", "ndcg_at_10", "recall_at_20", "hr_at_10", "coverage_at_10",
                "cold_recall_at_20", "users", "p_vs_best"]
        headers = [k.replace("_at_", "@").replace("_", " ") for k in keys]
        parts.append(table(headers, [[q.get(k) for k in keys] for q in s.quality]))
    return parts + [f"note: {note}" for note in s.notes]


def render(result: object, console: Console) -> None:
    """Print a Listing, Explanation or Status to ``console``."""
    if isinstance(result, Listing):
        parts = _listing(result)
    elif isinstance(result, Explanation):
        parts = _explanation(result)
    elif isinstance(result, Status):
        parts = _status(result)
    else:
        parts = [str(result)]
    for part in parts:
        if isinstance(part, str):
            console.print(part, markup=False, highlight=False, soft_wrap=True)
        else:
            console.print(part)


def console_for(stream) -> Console:
    """Colour and the terminal's width on a terminal; plain text of fixed width when piped."""
    terminal = stream.isatty()
    return Console(file=stream, width=None if terminal else PLAIN_WIDTH, force_terminal=terminal or None,
                   color_system="auto" if terminal else None, highlight=False)
