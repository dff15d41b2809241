"""Loading for the dashboards benchmark: one point a minute per series, through the real ingestion path.

`python -m bench.dashload SPEC --part I --parts P` runs in a Django-side subprocess against the benchmark's private
database. SPEC is a JSON file {"start": epoch s, "end": epoch s, "metrics": [...], "divisions": [{"division",
"handles"}]}. The work is cut into jobs (up to AGENTS_PER_BATCH agents of one division × every metric × one day at one
point a minute, ≤ 50,000 points: one batch); this process takes every P-th job from the I-th, builds each batch's
native-JSON body as a client would, then calls `batch_accept(..., enqueue=False)` and `batch_process(batch_id=…)`
itself (no broker, no worker: the same code the web tier and the worker run). Prints {"points", "batches",
"build_seconds", "accept_seconds", "process_seconds"} as JSON on the last line of stdout.

Values are plausible and deterministic: `metrics.demo.value_at`'s model (each agent its own level, a daily rhythm,
noise, a few hot agents), computed with numpy for a whole day of one series at once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import orjson

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novaops.settings")

DAY = 86_400
STEP = 60
AGENTS_PER_BATCH = 5  # 5 agents × 6 metrics × 1,440 minutes = 43,200 points, under the 50,000 a batch may hold
# metric key → (base, daily amplitude as a share of base, noise share, floor, ceiling), as metrics.demo.AGENT_METRICS
EXTRA_SPECS: dict[str, tuple[float, float, float, float, float]] = {
    "task_latency_p50_ms": (160.0, 0.3, 0.12, 15.0, 5_000.0),
    "uptime_pct": (99.8, -0.002, 0.002, 0.0, 100.0),
}


def _unit(*parts: object) -> float:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def metric_spec(metric: str) -> tuple[float, float, float, float, float]:
    from metrics.demo import AGENT_METRICS

    return AGENT_METRICS.get(metric) or EXTRA_SPECS[metric]


def series_values(owner: str, metric: str, ts: np.ndarray) -> np.ndarray:
    """metrics.demo.value_at for every timestamp of `ts` (epoch seconds) at once; the noise is seeded by
    (owner, metric, first timestamp), so the same job gives the same values."""
    base, amplitude, noise, floor, ceiling = metric_spec(metric)
    personal = 0.7 + 0.6 * _unit(owner, metric)
    hot = 1.8 if _unit(owner, "hot") > 0.94 and metric in ("task_latency_p95_ms", "error_rate_pct") else 1.0
    hour = (ts % DAY) / 3600.0
    rhythm = 1 + amplitude * np.sin((hour - 8) / 24 * 2 * np.pi)
    seed = int.from_bytes(hashlib.blake2b(f"{owner}|{metric}|{int(ts[0])}".encode(), digest_size=8).digest(), "big")
    jitter = 1 + noise * (2 * np.random.default_rng(seed).random(len(ts)) - 1)
    return np.round(np.clip(base * personal * hot * rhythm * jitter, floor, ceiling), 3)


def jobs(spec: dict) -> list[tuple[str, list[str], int, int]]:
    """(division, handles, start, end) per batch: groups of agents of one division × one day (or what is left)."""
    out = []
    for day_start in range(spec["start"], spec["end"], DAY):
        day_end = min(day_start + DAY, spec["end"])
        for division in spec["divisions"]:
            handles = division["handles"]
            for first in range(0, len(handles), AGENTS_PER_BATCH):
                out.append((division["division"], handles[first : first + AGENTS_PER_BATCH], day_start, day_end))
    return out


def body_build(handles: list[str], metrics: list[str], start: int, end: int) -> tuple[bytes, int]:
    """The batch's native-JSON body (RFC 3339 timestamps, as a client sends them) and its number of points."""
    ts = np.arange(start, end, STEP, dtype=np.int64)
    stamps = np.datetime_as_string(ts.astype("datetime64[s]"), unit="s").tolist()
    stamps = [f"{stamp}Z" for stamp in stamps]
    points = []
    for handle in handles:
        for metric in metrics:
            values = series_values(handle, metric, ts).tolist()
            points += [
                {"metric": metric, "agent": handle, "ts": stamp, "value": value}
                for stamp, value in zip(stamps, values, strict=True)
            ]
    return orjson.dumps({"points": points}), len(points)


def load(spec: dict, *, part: int, parts: int) -> dict:
    from agents.models import Division
    from metrics.services.batches import batch_accept
    from metrics.services.landing import batch_process

    divisions = {division.slug: division for division in Division.objects.all()}
    totals = {"points": 0, "batches": 0, "build_seconds": 0.0, "accept_seconds": 0.0, "process_seconds": 0.0}
    for slug, handles, start, end in jobs(spec)[part::parts]:
        t0 = time.perf_counter()
        body, points = body_build(handles, spec["metrics"], start, end)
        t1 = time.perf_counter()
        accepted = batch_accept(division=divisions[slug], token=None, body=body, enqueue=False)
        t2 = time.perf_counter()
        outcome = batch_process(batch_id=accepted.batch.pk)
        t3 = time.perf_counter()
        if outcome != "done":
            raise RuntimeError(f"batch {accepted.batch.pk} ({slug}, {start}..{end}) was not landed: {outcome}")
        totals["points"] += points
        totals["batches"] += 1
        totals["build_seconds"] += t1 - t0
        totals["accept_seconds"] += t2 - t1
        totals["process_seconds"] += t3 - t2
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashload")
    parser.add_argument("spec")
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    args = parser.parse_args(argv)

    import django

    django.setup()
    with open(args.spec, "rb") as handle:
        spec = orjson.loads(handle.read())
    print(json.dumps(load(spec, part=args.part, parts=args.parts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
