"""The Dagster code location ``movrec_pipeline``: everything under ``defs/``, autoloaded (no hand-kept lists)."""

import functools
from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


@functools.cache
def loaded() -> dg.Definitions:
    """The built definitions, once per process (for the CLI, tests and benchmarks)."""
    return defs()
