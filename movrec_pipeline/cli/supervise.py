"""Run child servers under one parent that a supervisor can stop: ``movrec dev`` (the Dagster UI, optionally the API).

Each child runs in a process group of its own (``dagster dev`` starts a webserver, a daemon and code servers, and
in some sandboxes ignores SIGTERM itself). SIGTERM, SIGINT or SIGHUP to the parent — or the end of any child —
sends SIGTERM to every child's whole group, waits for the groups to empty, and SIGKILLs what is left after the
grace period: no orphan keeps a port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class _Stop(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def group_members(pgid: int) -> list[int]:
    """Live processes (zombies left out) of a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def stop_groups(pgids: Sequence[int], grace_s: float) -> None:
    """SIGTERM each group, wait up to ``grace_s`` for all to empty, SIGKILL the rest."""
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(group_members(g) for g in pgids):
        _reap()
        time.sleep(0.1)
    for pgid in pgids:
        if group_members(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(group_members(g) for g in pgids):
        _reap()
        time.sleep(0.05)


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def supervise(commands: Sequence[Sequence[str]], *, grace_s: float = 20.0) -> int:
    """Run ``commands`` side by side until a stop signal or the first exit; returns that child's exit code (or 128 +
    the signal's number), after every child's group is gone."""
    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise _Stop(signum)

    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    children: list[subprocess.Popen] = []
    code = 0
    try:
        for argv in commands:
            children.append(subprocess.Popen(list(argv), start_new_session=True, stdin=subprocess.DEVNULL))
        by_pid = {child.pid: child for child in children}
        while True:
            pid, status = os.wait()
            if pid in by_pid:
                code = os.waitstatus_to_exitcode(status)
                code = 128 - code if code < 0 else code
                break
    except _Stop as stop:
        code = 128 + stop.signum
    finally:
        for s in STOP_SIGNALS:  # a second signal must not cut the clean-up short
            signal.signal(s, signal.SIG_IGN)
        stop_groups([child.pid for child in children], grace_s)
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code
