"""Materialization metadata the UI shows: column schemas and markdown previews."""

from collections.abc import Sequence

import dagster as dg
import pandas as pd


def column_schema(columns: Sequence[tuple[str, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, type_) for name, type_ in columns])


def preview(frame: pd.DataFrame, max_rows: int = 10, max_chars: int = 60, title: str = "") -> dg.MetadataValue:
    """A markdown preview for the UI: optional title line, then :func:`markdown_table`."""
    return dg.MetadataValue.md((f"{title}\n\n" if title else "") + markdown_table(frame, max_rows, max_chars))


def markdown_table(frame: pd.DataFrame, max_rows: int = 10, max_chars: int = 60) -> str:
    """The first rows as a markdown table (pandas' ``to_markdown``), long cells cut with an ellipsis."""
    if frame.empty:
        return "_(no rows)_"
    head = frame.head(max_rows).astype(object).map(
        lambda v: (str(v)[: max_chars - 1] + "…") if len(str(v)) > max_chars else str(v))
    head = head.map(lambda s: s.replace("|", "\\|").replace("\n", " "))
    return head.to_markdown(index=False)
