"""Dagster executors that run steps elsewhere (a Dask cluster); used by defs/executors.py when configured."""
