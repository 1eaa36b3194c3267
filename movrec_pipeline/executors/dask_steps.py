"""Steps on a Dask cluster: Dagster's step-delegating executor with a Dask step handler.

The run process stays the orchestrator (it plans, holds pool slots, applies retry policies and tails the event
log, as with Dagster's Kubernetes and Docker executors); each step becomes one Dask task whose worker runs
``dagster api execute_step`` in a child process. The child writes its events straight to the instance, dies with
the worker (``PR_SET_PDEATHSIG``), and leaves no memory behind in a long-lived worker. When a worker dies, Dask
runs the task again on another worker; a step process that fails outright is a failed health check, so the step's
``RetryPolicy`` decides what happens next. Task keys carry the run id and attempt: concurrent runs of one job
(a backfill's runs) never share a task. (dagster-dask's executor does neither: it keys tasks by job and step
only, dagster-io/dagster#21418, and cannot submit its arguments to dask ≥ 2024.12.)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import dagster as dg
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.executor.step_delegating import (
    CheckStepHealthResult,
    StepDelegatingExecutor,
    StepHandler,
    StepHandlerContext,
)
from dagster_shared.serdes import deserialize_value, serialize_value

CANCEL_POLL_SECONDS = 1.0
HEALTH_CHECK_SECONDS = 5
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: be killed when the worker thread that started us goes away."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class StepProcessError(RuntimeError):
    """The step's process on a worker ended abnormally (killed, out of memory, framework error)."""


def run_step_on_worker(step_env: dict[str, str], instance_ref: str, run_id: str, step_key: str, task_key: str
                       ) -> str:
    """Runs on a Dask worker: one step in a child ``dagster api execute_step``; returns the worker's name.

    The worker's name and the child's pid go to the run's event log first, so the UI shows where a step ran.
    A ``<task key>-cancel`` Dask event, set by the orchestrator, stops the child (SIGTERM: Dagster's interrupt).
    """
    from distributed import Event, get_worker

    worker = str(get_worker().name)
    proc = subprocess.Popen([sys.executable, "-m", "dagster", "api", "execute_step"],
                            env={**os.environ, **step_env}, preexec_fn=_die_with_parent)
    with dg.DagsterInstance.from_ref(deserialize_value(instance_ref)) as instance:
        run = instance.get_run_by_id(run_id)
        if run is not None:
            instance.report_engine_event(f"Step {step_key} running on Dask worker {worker}, process {proc.pid}.", run,
                                         EngineEventData(metadata={"dask_worker": worker, "pid": proc.pid}),
                                         step_key=step_key)
    cancel = Event(f"{task_key}-cancel")
    while True:
        try:
            code = proc.wait(timeout=CANCEL_POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            if cancel.is_set():
                proc.terminate()
    if code != 0:
        raise StepProcessError(f"step {step_key} process on worker {worker} exited with code {code}")
    return worker


class DaskStepHandler(StepHandler):
    """Launches, watches and stops steps as tasks of an existing Dask scheduler."""

    def __init__(self, scheduler: str) -> None:
        self.scheduler = scheduler
        self._client = None
        self._futures: dict[str, object] = {}

    @property
    def name(self) -> str:
        return "DaskStepHandler"

    def client(self):
        if self._client is None:
            from distributed import Client

            self._client = Client(self.scheduler, set_as_default=False, timeout=60)
        return self._client

    @staticmethod
    def _one_step(context: StepHandlerContext) -> str:
        keys = context.execute_step_args.step_keys_to_execute or []
        if len(keys) != 1:
            raise dg.DagsterInvariantViolationError(f"one step per Dask task, got {keys}")
        return keys[0]

    @classmethod
    def task_key(cls, context: StepHandlerContext) -> str:
        step_key = cls._one_step(context)
        known = context.execute_step_args.known_state
        attempt = known.get_retry_state().get_attempt_count(step_key) if known else 0
        return f"{step_key}-{context.execute_step_args.run_id}-{attempt}"

    def launch_step(self, step_handler_context: StepHandlerContext) -> Iterator[DagsterEvent]:
        args = step_handler_context.execute_step_args
        step_key, key = self._one_step(step_handler_context), self.task_key(step_handler_context)
        env = {item["name"]: item["value"] for item in args.get_command_env()}
        yield DagsterEvent.step_worker_starting(step_handler_context.get_step_context(step_key),
                                                f"Submitting step {step_key} to Dask ({self.scheduler}) as {key}.",
                                                metadata={"dask_task": key})
        self._futures[key] = self.client().submit(run_step_on_worker, env, serialize_value(args.instance_ref),
                                                  args.run_id, step_key, key, key=key, pure=False, retries=0)

    def check_step_health(self, step_handler_context: StepHandlerContext) -> CheckStepHealthResult:
        key = self.task_key(step_handler_context)
        future = self._futures.get(key)
        if future is None:
            return CheckStepHealthResult.unhealthy(f"Dask task {key} is not known to this run process")
        status = future.status
        if status == "error":
            return CheckStepHealthResult.unhealthy(f"Dask task {key} failed: {future.exception()}")
        if status in ("cancelled", "lost"):
            return CheckStepHealthResult.unhealthy(f"Dask task {key} is {status}")
        return CheckStepHealthResult.healthy()

    def terminate_step(self, step_handler_context: StepHandlerContext) -> Iterator[DagsterEvent]:
        from distributed import Event

        key = self.task_key(step_handler_context)
        yield DagsterEvent.engine_event(step_handler_context.get_step_context(self._one_step(step_handler_context)),
                                        f"Stopping Dask task {key}.", EngineEventData())
        Event(f"{key}-cancel", client=self.client()).set()
        future = self._futures.pop(key, None)
        if future is not None:
            with contextlib.suppress(Exception):
                future.cancel()


@dg.executor(
    name="dask_steps",
    config_schema={
        "scheduler": dg.Field(str, description="Address of the Dask scheduler, e.g. tcp://10.0.0.5:8786."),
        "max_concurrent": dg.Field(int, is_required=False, description="Most steps of one run at once."),
        "retries": get_retries_config(),
    },
    requirements=dg.multiple_process_executor_requirements(),
)
def dask_step_executor(init_context: dg.InitExecutorContext) -> StepDelegatingExecutor:
    """Every step of a run on a worker of an existing Dask scheduler (see docs/scaling.md)."""
    config = init_context.executor_config
    return StepDelegatingExecutor(DaskStepHandler(config["scheduler"]),
                                  retries=RetryMode.from_config(config["retries"]) or RetryMode.ENABLED,
                                  max_concurrent=config.get("max_concurrent"),
                                  check_step_health_interval_seconds=HEALTH_CHECK_SECONDS)
