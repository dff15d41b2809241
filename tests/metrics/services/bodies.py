"""Batches for the service tests: points of agent ta_00008 at so many seconds after BASE."""

import json
from datetime import UTC, datetime, timedelta

from metrics.models import IngestBatch
from metrics.services.batches import batch_accept

# A fixed hour in the recent past keeps bucket arithmetic readable: 10:00 UTC today-1.
BASE = (datetime.now(UTC) - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)


def points_body(*points: tuple[int, float], metric: str = "latency_p95_ms") -> bytes:
    """points as (seconds after BASE, value)."""
    return json.dumps(
        {
            "points": [
                {"metric": metric, "agent": "ta_00008", "ts": (BASE + timedelta(seconds=s)).isoformat(), "value": v}
                for s, v in points
            ]
        }
    ).encode()


def accept_batch(division, token, body: bytes) -> IngestBatch:
    """The batch accepted for `token` (a (DivisionToken, secret) pair), not yet enqueued unless on commit."""
    return batch_accept(division=division, token=token[0], body=body).batch
