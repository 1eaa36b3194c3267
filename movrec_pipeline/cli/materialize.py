"""``movrec materialize``: the daily job, headless, with a progress view instead of Dagster's DEBUG log.

The run executes in this process on the project's Dagster instance (so it shows in the UI's run list);
a background thread follows its event log and prints one line per finished step (status, time, rows,
items/s for embeddings), a live bar on running steps, warnings, one-line failures and a closing summary.
``--verbose`` prints Dagster's full event log instead. Tracebacks stay in the event log.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.utils import make_new_run_id
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from movrec_pipeline.cli.render import console_for
from movrec_pipeline.defs.partitions import FULL_RANGE_TAGS

JOB = "daily_refresh"
_EMBEDDED = re.compile(r"embedded (\d+)/(\d+)")
QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass
class StepState:
    key: str
    started: float
    task: int | None = None
    rows: dict[str, int] = field(default_factory=dict)  # asset (and partition) -> rows
    checks: list[str] = field(default_factory=list)
    extra: str = ""


@dataclass
class RunView:
    """What the event log said so far, folded into step lines and a summary."""

    steps: dict[str, StepState] = field(default_factory=dict)
    ok: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    materializations: int = 0


def _describe(metadata: dict) -> tuple[int | None, str]:
    """Rows and a short note (embedded / unchanged, items/s, kept) from a materialization's metadata."""
    def value(name: str):
        entry = metadata.get(name)
        return getattr(entry, "value", entry)

    rows = value("dagster/row_count")
    notes = []
    if value("run_embedded") is not None:  # an embedding range run: its totals
        notes.append(f"{value('run_embedded')} embedded, {value('run_skipped_unchanged')} unchanged")
        if value("run_failed") or value("run_parked"):
            notes.append(f"{value('run_failed')} refused, {value('run_parked')} parked (movrec.embedding_errors)")
        if value("run_embedded"):
            notes.append(f"{value('texts_per_second')} texts/s")
    if value("rebuilt") is False:
        notes.append("inputs unchanged, kept")
    if value("quarantined"):
        notes.append(f"{value('quarantined')} quarantined")
    return rows, ", ".join(notes)


class Follower:
    """Polls the run's event log from a thread and drives the rich progress display."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, console: Console) -> None:
        self.instance, self.run_id, self.console = instance, run_id, console
        self.view = RunView()
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console,
                                 transient=True)
        self._stop = threading.Event()
        self._cursor: str | None = None
        self._thread = threading.Thread(target=self._loop, name="movrec-progress", daemon=True)

    def __enter__(self) -> Follower:
        self.progress.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._drain()
        self.progress.stop()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._drain()

    def _drain(self) -> None:
        try:
            while True:
                page = self.instance.get_records_for_run(self.run_id, cursor=self._cursor, limit=500)
                for record in page.records:
                    self._handle(record.event_log_entry)
                self._cursor = page.cursor
                if not page.has_more:
                    return
        except Exception as exc:  # the display must never break the run
            self.view.warnings.append(f"progress display: {type(exc).__name__}")
            self._stop.set()

    def _handle(self, entry) -> None:
        event = entry.dagster_event
        step = entry.step_key
        if event is None:
            match = _EMBEDDED.search(entry.user_message or "")
            if match and step in self.view.steps and self.view.steps[step].task is not None:
                done, total = map(int, match.groups())
                self.progress.update(self.view.steps[step].task, completed=done, total=total,
                                     detail=f"{done}/{total} texts")
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            state = StepState(step, entry.timestamp)
            state.task = self.progress.add_task(step, total=None, detail="")
            self.view.steps[step] = state
        elif kind == "ASSET_MATERIALIZATION":
            self.view.materializations += 1
            state = self.view.steps.get(step)
            if state is not None:
                materialization = event.event_specific_data.materialization
                rows, extra = _describe(materialization.metadata)
                if rows is not None:  # per asset and partition (a re-sent event replaces, never adds)
                    state.rows[f"{materialization.asset_key.to_user_string()}/{materialization.partition}"] = int(rows)
                state.extra = extra or state.extra
        elif kind == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            name = f"{data.asset_key.to_user_string()}:{data.check_name}"
            if step in self.view.steps:
                self.view.steps[step].checks.append(data.check_name)
            if data.passed:
                self.view.checks_passed += 1
            else:
                line = check_line(name, data)
                self.view.checks_failed.append(line)
                self.console.print(f"[yellow]! check failed[/] {line}", highlight=False)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            self._finish(step, kind, entry, event)
        elif kind == "STEP_UP_FOR_RETRY":
            self.console.print(f"[yellow]↻ retrying[/] {step}", highlight=False)

    def _finish(self, step: str, kind: str, entry, event) -> None:
        state = self.view.steps.pop(step, None)
        if state is not None and state.task is not None:
            self.progress.remove_task(state.task)
        seconds = entry.timestamp - state.started if state else 0.0
        label = f"check {', '.join(state.checks)}" if state and state.checks and not state.rows else step
        if kind == "STEP_SUCCESS":
            self.view.ok.append(step)
            rows = f"{sum(state.rows.values()):,} rows" if state and state.rows else ""
            detail = "; ".join(p for p in (rows, state.extra if state else "") if p)
            self.console.print(f"[green]✓[/] {label:<40} {seconds:6.1f} s  {detail}", highlight=False)
        elif kind == "STEP_FAILURE":
            error = event.event_specific_data.error
            cause = one_line(error.message if error else "failed")
            if "blocking asset check" in cause and state is not None:  # name the checks, their figures, what to do
                failed = [c for c in self.view.checks_failed if c.split(" (")[0].split(":")[-1] in state.checks]
                cause = cause.rstrip(":") + ": " + "; ".join(failed) if failed else cause
            self.view.failed.append(f"{step}: {cause}")
            self.console.print(f"[red]✗[/] {label:<40} {seconds:6.1f} s  {cause}", highlight=False)
        else:
            self.console.print(f"[dim]- {label:<40} skipped (an upstream step or blocking check failed)[/]",
                               highlight=False)


FIGURES = ("recall_at_10", "coverage_pct", "ndcg_at_10", "failed", "refused_items", "lag_seconds")
THRESHOLDS = ("floor", "recall_floor", "threshold", "max_lag_seconds")


def check_line(name: str, data) -> str:
    """A failed check in one line: its figure against its threshold, and the one thing to do."""
    meta = {k: getattr(v, "value", v) for k, v in (data.metadata or {}).items()}
    figure = next((f"{k} {meta[k]}" for k in FIGURES if k in meta), "")
    threshold = next((f"threshold {meta[k]}" for k in THRESHOLDS if k in meta), "")
    severity = getattr(getattr(data, "severity", None), "value", "ERROR")
    parts = [p for p in (figure, threshold) if p]
    text = f"{name} ({severity}{': ' + ', '.join(parts) if parts else ''})"
    todo = meta.get("what_to_do") or meta.get("problems")
    return f"{text} — {todo}" if todo else text


def one_line(message: str) -> str:
    """The first meaningful line of an error message (Dagster wraps ours in a few words)."""
    text = " ".join(message.strip().split("\n")[0].split())
    for prefix in ("dagster._core.definitions.events.Failure: ", "Failure: "):
        text = text.removeprefix(prefix)
    return text


def summary(view: RunView, success: bool, seconds: float, run_id: str) -> list[str]:
    """The closing lines: outcome, counts, failed checks and steps with what to do."""
    checks = view.checks_passed + len(view.checks_failed)
    lines = [f"{'ok' if success else 'FAILED'} in {seconds:.1f} s: {view.materializations} materializations, "
             f"{view.checks_passed}/{checks} checks passed"]
    lines += [f"  check failed: {name}" for name in view.checks_failed]
    lines += [f"  step failed: {failure}" for failure in view.failed]
    lines += [f"  warning: {w}" for w in view.warnings]
    if not success:
        lines.append(f"  details: run {run_id} in the Dagster UI (movrec dev), or movrec materialize --verbose")
    return lines


def materialize_all(out: Callable[[str], None] | None = None, *, verbose: bool = False,
                    console: Console | None = None) -> bool:
    """Run the ``daily_refresh`` job (every asset and check, all buckets in one run); True on success."""
    from movrec_pipeline.definitions import loaded

    console = console or console_for(sys.stdout)
    job = loaded().resolve_job_def(JOB)
    run_id = make_new_run_id()
    tags = {**FULL_RANGE_TAGS, "movrec/trigger": "cli"}
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        if verbose:
            result = job.execute_in_process(instance=instance, run_id=run_id, tags=tags, raise_on_error=False)
            follower = Follower(instance, run_id, console)
            follower._drain()  # fold the finished run's events into the summary, printing its step lines
        else:
            with Follower(instance, run_id, console) as follower:
                result = job.execute_in_process(instance=instance, run_id=run_id, tags=tags,
                                                run_config=QUIET_LOGGERS, raise_on_error=False)
    for line in summary(follower.view, result.success, time.perf_counter() - started, run_id):
        (out or (lambda text: console.print(text, markup=False, highlight=False)))(line)
    return result.success
