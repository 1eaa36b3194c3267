"""Open-loop HTTP/1.1 load at a fixed arrival rate, latency from each request's intended send time.

A closed loop (wrk, ab, locust's default wait) sends the next request only when one comes back, so a slow
response delays the requests behind it and their waiting never shows (coordinated omission). Here request ``i`` is
due at ``start + i / rate`` whatever happened before; its latency runs from that due time to the last byte of the
response, and goes into an HdrHistogram (microseconds, 3 significant digits). Connections are kept alive and
opened on demand (up to ``max_connections``), so a slow server meets more connections, as it would in production.

The client is a few lines of asyncio over raw sockets (uvloop when installed): an HTTP library would cost the
load generator more CPU than the server it measures on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

MAX_LATENCY_US = 60_000_000


@dataclass(frozen=True)
class Call:
    """One request: method, path (with query), body (JSON bytes) and extra headers."""

    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    def wire(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.body or self.method in ("POST", "PUT"):
            lines += ["Content-Type: application/json", f"Content-Length: {len(self.body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Outcome:
    """What one measured phase saw: latencies (µs) of the measured requests, statuses, errors."""

    histogram: HdrHistogram = field(default_factory=lambda: HdrHistogram(1, MAX_LATENCY_US, 3))
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    sent: int = 0
    seconds: float = 0.0
    bodies: list[bytes] = field(default_factory=list)  # a few sample bodies (for checks beside the latency)

    @property
    def achieved_rate(self) -> float:
        return self.histogram.get_total_count() / self.seconds if self.seconds else 0.0

    def ms(self, percentile: float) -> float:
        return self.histogram.get_value_at_percentile(percentile) / 1000.0

    @property
    def max_ms(self) -> float:
        return self.histogram.get_max_value() / 1000.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one response; Content-Length or chunked bodies."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(p[:-2] for p in parts)
    else:
        body = b""
    return status, body, headers.get("connection", "").lower() != "close"


class _Connections:
    """Idle keep-alive connections, opened on demand up to a maximum."""

    def __init__(self, host: str, port: int, maximum: int) -> None:
        self.host, self.port, self.maximum = host, port, maximum
        self.idle: asyncio.Queue = asyncio.Queue()
        self.opened = 0

    async def get(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle.empty() and self.opened < self.maximum:
            self.opened += 1
            try:
                return await asyncio.open_connection(self.host, self.port)
            except OSError:
                self.opened -= 1
                raise
        return await self.idle.get()

    def put(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], reusable: bool) -> None:
        if reusable:
            self.idle.put_nowait(conn)
        else:
            self.opened -= 1
            conn[1].close()

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait()[1].close()


async def _open_loop(host: str, port: int, calls: Callable[[int], Call], rate: float, warmup_s: float,
                     measure_s: float, expected: frozenset[int], max_connections: int, keep_bodies: int,
                     drain_s: float) -> Outcome:
    out = Outcome()
    pool = _Connections(host, port, max_connections)
    loop = asyncio.get_running_loop()
    start = time.monotonic() + 0.05
    measure_from = start + warmup_s
    total = int((warmup_s + measure_s) * rate)
    tasks: set[asyncio.Task] = set()

    async def one(i: int, due: float) -> None:
        call = calls(i)
        measured = due >= measure_from
        conn = None
        try:
            conn = await pool.get()
            conn[1].write(call.wire(host))
            status, body, keep = await _read_response(conn[0])
            pool.put(conn, keep)
            conn = None
            done = time.monotonic()  # not loop.time(): uvloop caches it per iteration, in whole ms
            if not measured:
                return
            out.statuses[status] += 1
            if status not in expected:
                out.errors[f"HTTP {status}"] += 1
            elif len(out.bodies) < keep_bodies:
                out.bodies.append(body)
            out.histogram.record_value(max(1, min(int((done - due) * 1e6), MAX_LATENCY_US)))
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            if conn is not None:
                pool.put(conn, False)
            if measured:
                out.errors[type(exc).__name__] += 1
        except asyncio.CancelledError:  # still unanswered when the run ended: an error, and at least this late
            if conn is not None:
                pool.put(conn, False)
            if measured:
                out.errors["unanswered at the end"] += 1
                out.histogram.record_value(max(1, min(int((time.monotonic() - due) * 1e6), MAX_LATENCY_US)))
            raise

    def spawn(i: int, due: float) -> None:
        if due >= measure_from:
            out.sent += 1
        task = loop.create_task(one(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    sent_all = asyncio.Event()

    def pace() -> None:
        """Send times from a thread that sleeps precisely (the event loop's timers have 1 ms granularity, which
        would add up to a millisecond to every latency)."""
        for i in range(total):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            loop.call_soon_threadsafe(spawn, i, due)
        loop.call_soon_threadsafe(sent_all.set)

    pacer = threading.Thread(target=pace, daemon=True)
    pacer.start()
    await sent_all.wait()
    if tasks:
        await asyncio.wait(tasks, timeout=drain_s)
    for task in list(tasks):  # never left pending: counted (above), their connections closed
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    out.seconds = measure_s
    pool.close()
    return out


def open_loop(host: str, port: int, calls: Callable[[int], Call], *, rate: float, warmup_s: float, measure_s: float,
              expected: tuple[int, ...] = (200,), max_connections: int = 256, keep_bodies: int = 0,
              drain_s: float = 60.0) -> Outcome:
    """Send ``calls(i)`` at ``rate`` per second for ``warmup_s`` + ``measure_s``; measure the second part. Requests
    still unanswered ``drain_s`` after the last send are errors, recorded at least as late as they already are."""
    runner = _new_loop()
    try:
        return runner.run_until_complete(_open_loop(host, port, calls, rate, warmup_s, measure_s,
                                                    frozenset(expected), max_connections, keep_bodies, drain_s))
    finally:
        runner.close()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with the serving stack
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def closed_loop(host: str, port: int, call: Call, *, connections: int, seconds: float) -> tuple[int, Outcome]:
    """Peak throughput: ``connections`` clients, each sending the next request when one returns (requests/s)."""
    async def run() -> tuple[int, Outcome]:
        out = Outcome()
        stop = asyncio.get_running_loop().time() + seconds
        wire = call.wire(host)

        async def client() -> int:
            n = 0
            reader, writer = await asyncio.open_connection(host, port)
            try:
                while asyncio.get_running_loop().time() < stop:
                    t0 = time.perf_counter()
                    writer.write(wire)
                    status, _, _ = await _read_response(reader)
                    out.statuses[status] += 1
                    out.histogram.record_value(max(1, int((time.perf_counter() - t0) * 1e6)))
                    n += 1
            finally:
                writer.close()
            return n

        counts = await asyncio.gather(*(client() for _ in range(connections)))
        out.seconds = seconds
        return sum(counts), out

    runner = _new_loop()
    try:
        return runner.run_until_complete(run())
    finally:
        runner.close()


def in_process(fn: Callable[[int], object], *, rate: float, warmup_s: float, measure_s: float) -> Outcome:
    """The same arrival schedule for an in-process call on one thread (one caller, as one connection would be)."""
    out = Outcome()
    start = time.perf_counter() + 0.05
    measure_from = start + warmup_s
    total = int((warmup_s + measure_s) * rate)
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            fn(i)
        except Exception as exc:  # counted, like an HTTP error
            if due >= measure_from:
                out.errors[type(exc).__name__] += 1
            continue
        if due >= measure_from:
            out.sent += 1
            out.histogram.record_value(max(1, min(int((time.perf_counter() - due) * 1e6), MAX_LATENCY_US)))
    out.seconds = measure_s
    return out


class CpuMeter:
    """CPU seconds of some processes (and their children) and of the whole machine over a phase."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        import psutil

        self._psutil = psutil
        self.groups = {name: [p for p in (self._proc(pid) for pid in pids_) if p] for name, pids_ in pids.items()}
        self._lock = threading.Lock()

    def _proc(self, pid: int):
        with contextlib.suppress(self._psutil.Error):
            return self._psutil.Process(pid)
        return None

    def _times(self) -> dict[str, float]:
        out = {}
        for name, procs in self.groups.items():
            total = 0.0
            for proc in procs:
                with contextlib.suppress(self._psutil.Error):
                    family = [proc, *proc.children(recursive=True)]
                    for p in family:
                        with contextlib.suppress(self._psutil.Error):
                            t = p.cpu_times()
                            total += t.user + t.system
            out[name] = total
        cpu = self._psutil.cpu_times()
        out["machine"] = cpu.user + cpu.system + getattr(cpu, "nice", 0.0) + getattr(cpu, "irq", 0.0) + getattr(
            cpu, "softirq", 0.0)
        return out

    def start(self) -> None:
        self._t0, self._c0 = time.perf_counter(), self._times()

    def stop(self) -> dict[str, float]:
        """CPU use per group in percent of one core (machine: of all cores) since ``start``."""
        wall = time.perf_counter() - self._t0
        now = self._times()
        out = {name: 100.0 * (now[name] - self._c0.get(name, 0.0)) / wall for name in now}
        out["machine"] /= self._psutil.cpu_count() or 1
        return out
