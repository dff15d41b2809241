"""DEMO metric data: deterministic, plausible numbers for the demo organisation (backfill and live simulator).

Each agent has its own baseline; values follow a daily rhythm (busier in UTC working hours) with noise that is a
pure function of (agent, metric, time), so regenerating a moment gives the same value and re-posting it changes
nothing. A few agents run hot, so dashboards have something to point at.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

# metric key → (base, daily amplitude as a share of base, noise share, floor, ceiling)
AGENT_METRICS: dict[str, tuple[float, float, float, float, float]] = {
    "task_latency_p95_ms": (420.0, 0.35, 0.15, 40.0, 10_000.0),
    "throughput_tasks_per_min": (18.0, 0.5, 0.2, 0.0, 1_000.0),
    "error_rate_pct": (1.2, 0.4, 0.5, 0.0, 100.0),
    "tool_call_success_pct": (97.5, -0.01, 0.01, 0.0, 100.0),
}
DIVISION_METRICS: dict[str, tuple[float, float, float, float, float]] = {
    "queue_backlog": (35.0, 0.6, 0.3, 0.0, 10_000.0),
    "cost_per_task_usd": (0.042, 0.1, 0.1, 0.001, 10.0),
    "workflow_completions": (140.0, 0.5, 0.2, 0.0, 100_000.0),
}
AGENT_STEP = timedelta(minutes=30)
# A few agents went silent a while ago (the dashboards' "stopped reporting"), and now and then a point jumps far from
# its usual level (the dashboards' anomaly marks): both chosen by hash, so every run agrees.
SILENT_FOR = timedelta(hours=6)
SILENT_SHARE = 0.015
SPIKE_SHARE = 0.0004
SPIKE_FACTOR = 3.0
DIVISION_STEP = timedelta(minutes=10)


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from its arguments."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def value_at(owner: str, metric: str, moment: datetime, spec: tuple[float, float, float, float, float]) -> float:
    base, amplitude, noise, floor, ceiling = spec
    personal = 0.7 + 0.6 * _unit(owner, metric)  # this agent's or division's own level
    hot = 1.8 if _unit(owner, "hot") > 0.94 and metric in ("task_latency_p95_ms", "error_rate_pct") else 1.0
    hour = moment.hour + moment.minute / 60
    rhythm = 1 + amplitude * math.sin((hour - 8) / 24 * 2 * math.pi)
    jitter = 1 + noise * (2 * _unit(owner, metric, int(moment.timestamp())) - 1)
    spike = SPIKE_FACTOR if _unit(owner, metric, int(moment.timestamp()), "spike") < SPIKE_SHARE else 1.0
    value = base * personal * hot * rhythm * jitter * spike
    return round(min(ceiling, max(floor, value)), 3)


def is_silent(handle: str) -> bool:
    """One of the few demo agents that stopped reporting SILENT_FOR before the backfill's end (and stay silent)."""
    return _unit(handle, "silent") < SILENT_SHARE


def _aligned(moment: datetime, step: timedelta) -> datetime:
    seconds = int(step.total_seconds())
    return datetime.fromtimestamp(int(moment.timestamp()) // seconds * seconds, tz=UTC)


def division_points(*, division_slug: str, handles: list[str], start: datetime, end: datetime) -> Iterator[dict]:
    """Every demo point of one division in [start, end): agent metrics every 30 min, division ones every 10."""
    moment = _aligned(start, AGENT_STEP) + (AGENT_STEP if _aligned(start, AGENT_STEP) < start else timedelta(0))
    silent = {handle for handle in handles if is_silent(handle)}
    while moment < end:
        stamp = moment.isoformat().replace("+00:00", "Z")
        speaking = [h for h in handles if h not in silent] if moment >= end - SILENT_FOR else handles
        for handle in speaking:
            for metric, spec in AGENT_METRICS.items():
                yield {"metric": metric, "agent": handle, "ts": stamp, "value": value_at(handle, metric, moment, spec)}
        moment += AGENT_STEP
    moment = _aligned(start, DIVISION_STEP) + (
        DIVISION_STEP if _aligned(start, DIVISION_STEP) < start else timedelta(0)
    )
    while moment < end:
        stamp = moment.isoformat().replace("+00:00", "Z")
        for metric, spec in DIVISION_METRICS.items():
            yield {"metric": metric, "ts": stamp, "value": value_at(division_slug, metric, moment, spec)}
        moment += DIVISION_STEP


def live_points(*, division_slug: str, handles: list[str], moment: datetime) -> list[dict]:
    """A snapshot for the simulator: every agent and division metric at one moment (second precision)."""
    moment = moment.replace(microsecond=0)
    stamp = moment.isoformat().replace("+00:00", "Z")
    points = [
        {"metric": metric, "agent": handle, "ts": stamp, "value": value_at(handle, metric, moment, spec)}
        for handle in handles
        if not is_silent(handle)
        for metric, spec in AGENT_METRICS.items()
    ]
    points += [
        {"metric": metric, "ts": stamp, "value": value_at(division_slug, metric, moment, spec)}
        for metric, spec in DIVISION_METRICS.items()
    ]
    return points
