"""Tune a vector index to the recall floor on the loaded vectors themselves, and record what was chosen.

After a build, recall@10 is measured on profile-like queries against exact search while the search depth rises
(HNSW ``ef_search``, IVFFlat ``probes``) until the floor is met within a latency bound. When no depth reaches it,
the index is rebuilt with a denser graph (HNSW ``m`` / ``ef_construction``; more IVFFlat lists) and tuned again.
Where nothing within the bound reaches the floor, the best setting found is recorded with ``exact_fallback``: the
query paths then search exactly for that kind and model rather than serve a bad index.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import psycopg

from movrec_pipeline.warehouse import sqlfiles
from movrec_pipeline.warehouse.index_build import IndexSpec, build_index
from movrec_pipeline.warehouse.index_recall import Measurement, RecallProbe
from movrec_pipeline.warehouse.vectors import MAX_EF_SEARCH

EF_SEARCH_LADDER = (40, 64, 100, 160, 250, 400, 640, MAX_EF_SEARCH)
PROBES_LADDER = (1, 2, 4, 8, 16, 32, 64, 128)
HNSW_REBUILDS = ((24, 200), (32, 320))  # (m, ef_construction) tried in turn when no ef_search reaches the floor
IVFFLAT_REBUILD_FACTOR = 0.5  # fewer, larger lists: each probe covers more rows


@dataclass(frozen=True)
class Trial:
    build: dict[str, int | str]
    ef_search: int | None
    probes: int | None
    recall: float
    p50_ms: float
    p95_ms: float


@dataclass
class TunedIndex:
    """What the tuning chose (the ``chosen`` trial, and everything it tried), as recorded with the index."""

    index_name: str
    method: str
    chosen: Trial
    floor: float
    exact_fallback: bool
    build_seconds: float = 0.0
    rebuilds: int = 0
    trials: list[Trial] = field(default_factory=list)
    dropped: int = 0  # older indexes (valid or left invalid by a killed build) dropped by the builds

    def metadata(self) -> dict[str, object]:
        """The figures an index build reports (the asset's materialization metadata)."""
        return {"index_name": self.index_name, "method": self.method, **self.chosen.build,
                "ef_search": self.chosen.ef_search or 0, "probes": self.chosen.probes or 0,
                "recall_at_10": round(self.chosen.recall, 4), "p50_latency_ms": round(self.chosen.p50_ms, 2),
                "p95_latency_ms": round(self.chosen.p95_ms, 2), "recall_floor": self.floor,
                "exact_fallback": self.exact_fallback, "dropped": self.dropped, "build_seconds": self.build_seconds,
                "rebuilds": self.rebuilds, "settings_tried": len(self.trials), "tuning": self.summary()}

    def summary(self) -> str:
        """One line: the choice, or why the query paths search exactly."""
        depth = f"ef_search={self.chosen.ef_search}" if self.method == "hnsw" else f"probes={self.chosen.probes}"
        params = ", ".join(f"{k}={v}" for k, v in self.chosen.build.items())
        if not self.exact_fallback:
            return (f"{self.method} ({params}) at {depth}: recall@10 {self.chosen.recall:.3f} ≥ floor "
                    f"{self.floor:.2f}, p95 {self.chosen.p95_ms:.1f} ms")
        return (f"no {self.method} setting within the latency bound reaches recall@10 {self.floor:.2f} (best "
                f"{self.chosen.recall:.3f} at {depth}, {params}, after {self.rebuilds} rebuilds): queries on this kind "
                "search exactly; raise MOVREC_INDEX_MAX_P95_MS or lower MOVREC_INDEX_RECALL_FLOOR")


def _depths(spec: IndexSpec) -> list[tuple[int | None, int | None]]:
    if spec.method == "hnsw":
        return [(ef, None) for ef in EF_SEARCH_LADDER]
    return [(None, p) for p in PROBES_LADDER]


def _denser(spec: IndexSpec, rows: int, attempt: int) -> IndexSpec | None:
    """The next, denser build to try, or None when the ladder is exhausted."""
    if spec.method == "hnsw":
        if attempt >= len(HNSW_REBUILDS):
            return None
        m, efc = HNSW_REBUILDS[attempt]
        return replace(spec, m=max(spec.m, m), ef_construction=max(spec.ef_construction, efc))
    if attempt >= 2:
        return None
    return replace(spec, lists=max(1, int(spec.lists_for(rows) * IVFFLAT_REBUILD_FACTOR)))


def tune(conn: psycopg.Connection, kind: str, model_id: int, dims: int, spec: IndexSpec, *, floor: float,
         max_p95_ms: float, n_queries: int = 200, log: Callable[[str], None] = lambda _m: None) -> TunedIndex:
    """Build the (kind, model) index per ``spec`` and tune it to ``floor``; ``conn`` must be in autocommit mode."""
    probe = RecallProbe(conn, kind, model_id, dims, n_queries=n_queries)
    best: tuple[Trial, dict] | None = None
    trials: list[Trial] = []
    build_seconds, rebuilds, current, dropped = 0.0, 0, spec, 0
    while True:
        started = time.perf_counter()
        info = build_index(conn, kind, model_id, dims, current)
        build_seconds += time.perf_counter() - started
        dropped += int(info["dropped"])
        build = {k: info[k] for k in ("m", "ef_construction", "lists") if k in info}
        probe.measure(conn, ef_search=EF_SEARCH_LADDER[0], probes=PROBES_LADDER[0])  # warm-up: a new index's
        # first scans were seen to return other (worse) neighbours than the same scans a moment later
        shallowest_too_slow = False
        for position, (ef, probes) in enumerate(_depths(current)):
            found: Measurement = probe.measure(conn, ef_search=ef or 40, probes=probes or 1)
            trial = Trial(build, ef, probes, found.recall, found.p50_ms, found.p95_ms)
            trials.append(trial)
            log(f"{kind} index {build} ef_search={ef} probes={probes}: recall@10 {found.recall:.4f}, "
                f"p95 {found.p95_ms:.1f} ms")
            if found.p95_ms > max_p95_ms:
                shallowest_too_slow = position == 0
                break  # deeper only gets slower
            if best is None or found.recall > best[0].recall:
                best = (trial, info)
            if found.recall >= floor:
                return _result(info, trial, floor, False, build_seconds, rebuilds, trials, dropped)
        nxt = _denser(current, int(info["rows"]), rebuilds)
        if nxt is None or probe.items == 0 or shallowest_too_slow:  # a denser index is slower still
            break
        rebuilds, current = rebuilds + 1, nxt
    trial, best_info = best if best is not None else (trials[0], info)
    if best_info is not info:  # the best setting was on an earlier build: rebuild it (the index in place is denser)
        info = build_index(conn, kind, model_id, dims, replace(spec, **{k: v for k, v in trial.build.items()}))
        dropped += int(info["dropped"])
    return _result(info, trial, floor, True, build_seconds, rebuilds, trials, dropped)


def _result(info: dict, trial: Trial, floor: float, fallback: bool, build_seconds: float, rebuilds: int,
            trials: list[Trial], dropped: int) -> TunedIndex:
    return TunedIndex(str(info["index_name"]), str(info["method"]), trial, floor, fallback, round(build_seconds, 3),
                      rebuilds, trials, dropped)


def record(conn: psycopg.Connection, kind: str, model_id: int, tuned: TunedIndex) -> None:
    """Store the choice in ``movrec.vector_index_settings`` (what every query path sets per transaction)."""
    chosen = tuned.chosen
    conn.execute(sqlfiles.load("indexes/record_settings"), {
        "kind": kind, "model_id": model_id, "index_name": tuned.index_name, "method": tuned.method,
        "build_params": json.dumps(chosen.build), "ef_search": chosen.ef_search, "probes": chosen.probes,
        "recall": chosen.recall, "p50_ms": chosen.p50_ms, "p95_ms": chosen.p95_ms, "floor": tuned.floor,
        "exact_fallback": tuned.exact_fallback})


@dataclass(frozen=True)
class SearchSettings:
    """What a query on (kind, model) sets: the tuned depth, or exact search."""

    index_name: str | None
    method: str | None
    ef_search: int | None
    probes: int | None
    recall: float | None
    exact: bool

    def as_dict(self) -> dict:
        return asdict(self)


def search_settings(conn: psycopg.Connection, kind: str, model_id: int) -> SearchSettings | None:
    """The recorded settings of the (kind, model) index, or None when it was never tuned."""
    row = conn.execute(sqlfiles.load("warehouse/search_settings"), {"kind": kind, "model_id": model_id}).fetchone()
    if row is None:
        return None
    name, method, ef, probes, recall, exact = row
    return SearchSettings(name, method, ef, probes, float(recall), bool(exact))


def recheck(conn: psycopg.Connection, kind: str, model_id: int, dims: int, floor: float, *, n_queries: int,
            asset: str) -> tuple[bool, bool, dict[str, object]]:
    """The recall check: the recorded setting measured again on fresh queries (passed, only a warning, figures)."""
    recorded = search_settings(conn, kind, model_id)
    ef_search, probes = (recorded and recorded.ef_search) or 40, (recorded and recorded.probes) or 1
    found = RecallProbe(conn, kind, model_id, dims, n_queries=n_queries, seed=1).measure(conn, ef_search, probes)
    passed, warn_only, what_to_do = verdict(asset, found, recorded, floor)
    return passed, warn_only, {
        "recall_at_10": round(found.recall, 4), "p50_latency_ms": round(found.p50_ms, 3),
        "p95_latency_ms": round(found.p95_ms, 3), "queries": found.queries, "floor": floor,
        "uses_index": found.uses_index, "ef_search": (recorded and recorded.ef_search) or 0,
        "probes": (recorded and recorded.probes) or 0, **({"what_to_do": what_to_do} if what_to_do else {})}


def verdict(asset: str, found: Measurement, recorded: SearchSettings | None, floor: float
            ) -> tuple[bool, bool, str]:
    """The recall check's outcome on fresh queries: (passed, only a warning, the one thing to do)."""
    if found.queries == 0:
        return True, False, ""  # no vectors yet
    if recorded is None:
        return False, False, f"materialize {asset} (no tuned settings recorded)"
    if recorded.exact:
        return False, True, ("the asset already tried every depth and denser rebuilds within MOVREC_INDEX_MAX_P95_MS; "
                             "queries on this kind search exactly: raise MOVREC_INDEX_MAX_P95_MS to allow deeper "
                             "searches, or lower MOVREC_INDEX_RECALL_FLOOR")
    if found.recall >= floor and found.uses_index:
        return True, False, ""
    return False, False, f"re-materialize {asset}: it re-tunes the search depth on the current vectors"
