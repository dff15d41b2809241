"""Per-division ingest quotas counted in Redis, so that checking one costs a POST one round trip instead of a sum over
the last hour's batches.

Each division has one small hash per minute (`b` batches, `p` points) that every web process increments; a batch is
counted when it passes the check (and taken back when it is refused), in the same script that reads the last hour's
counts, so two requests at once cannot both slip under the limit. The minute before the current one counts for the
part of it still inside the window (a sliding window's usual estimate). When Redis does not answer, the durable batch
table is counted instead, as before: slower, never wrong. Batches accepted while Redis was away are missing from its
counts for the rest of that hour, which errs towards letting a division post.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Q, Sum
from redis.backoff import NoBackoff
from redis.retry import Retry

from metrics.models import IngestBatch

logger = logging.getLogger(__name__)

# A frozen Redis must not hold a POST for long, nor every POST: after a failure, the database counts for a while.
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_PAUSE_SECONDS = 10.0
_KEEP_SECONDS = 62 * 60

# KEYS: this minute's hash, then the 60 minutes before it. ARGV: the batch's points, how long to keep the hash.
# Returns, this batch included: batches this minute, batches the minute before, points in this minute and the 59
# before it, points in the oldest minute.
_COUNT_SCRIPT = """
redis.call('HINCRBY', KEYS[1], 'b', 1)
redis.call('HINCRBY', KEYS[1], 'p', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local batches = {0, 0}
local points = {0, 0}
for i, key in ipairs(KEYS) do
    local b, p = unpack(redis.call('HMGET', key, 'b', 'p'))
    if i <= 2 then batches[i] = tonumber(b) or 0 end
    if i <= 60 then points[1] = points[1] + (tonumber(p) or 0) else points[2] = tonumber(p) or 0 end
end
return {batches[1], batches[2], points[1], points[2]}
"""


@dataclass(frozen=True)
class Usage:
    """What a division has sent, before the batch being checked."""

    batches_minute: float
    points_hour: float


class _Counter:
    def __init__(self) -> None:
        self._url = ""
        self._client: redis.Redis | None = None
        self._script = None
        self._paused_until = 0.0

    def client(self) -> redis.Redis:
        """One client (and connection pool) per process and REDIS_URL, made on first use: after a fork, never
        before."""
        url = settings.REDIS_URL
        if self._client is None or url != self._url:
            # No retries: redis-py retries a timed-out command three times by default, with backoff, which a frozen
            # Redis turns into seconds inside a request.
            options = {
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "retry": Retry(NoBackoff(), 0),
            }
            if url.startswith("redis+socket://"):
                path = url.removeprefix("redis+socket://").split("?")[0]
                self._client = redis.Redis(unix_socket_path=path, **options)
            else:
                self._client = redis.Redis.from_url(url, **options)
            self._url = url
            self._script = self._client.register_script(_COUNT_SCRIPT)
            self._paused_until = 0.0
        return self._client

    def count(self, keys: list[str], points: int) -> list[int]:
        self.client()
        return self._script(keys=keys, args=[points, _KEEP_SECONDS])

    def available(self) -> bool:
        return settings.REDIS_URL != self._url or time.monotonic() >= self._paused_until

    def pause(self, exc: Exception) -> None:
        logger.warning("Quota counters unavailable (%s); counting batches in the database.", exc)
        self._paused_until = time.monotonic() + REDIS_PAUSE_SECONDS


_counter = _Counter()


def _key_prefix(division_id: int) -> str:
    # The database's name keeps the test database's divisions apart from the development one's on a shared Redis.
    return f"novaops:quota:{connection.settings_dict['NAME']}:{division_id}:"


def quota_take(*, division_id: int, points: int, now: datetime) -> tuple[Usage, bool]:
    """Count a batch of `points` for the division and return the usage before it, and whether it was counted
    (in Redis, where quota_give_back must then take it back if the batch is refused)."""
    if _counter.available():
        try:
            return _redis_take(division_id, points, now), True
        except (redis.RedisError, OSError) as exc:
            _counter.pause(exc)
    return _database_usage(division_id, now), False


def quota_give_back(*, division_id: int, points: int, now: datetime) -> None:
    """Undo quota_take's count for a batch that was refused after all."""
    key = f"{_key_prefix(division_id)}{int(now.timestamp()) // 60}"
    try:
        with _counter.client().pipeline(transaction=False) as pipe:
            pipe.hincrby(key, "b", -1)
            pipe.hincrby(key, "p", -points)
            pipe.execute()
    except (redis.RedisError, OSError) as exc:
        _counter.pause(exc)


def _redis_take(division_id: int, points: int, now: datetime) -> Usage:
    seconds = now.timestamp()
    minute = int(seconds) // 60
    prefix = _key_prefix(division_id)
    batches_now, batches_before, points_recent, points_oldest = _counter.count(
        [f"{prefix}{minute - back}" for back in range(61)], points
    )
    # The share of the oldest minute that is still inside the window.
    remaining = 1 - (seconds % 60) / 60
    return Usage(
        batches_minute=batches_now - 1 + batches_before * remaining,
        points_hour=points_recent - points + points_oldest * remaining,
    )


def _database_usage(division_id: int, now: datetime) -> Usage:
    window = IngestBatch.objects.filter(division_id=division_id, created_at__gte=now - timedelta(hours=1))
    stats = window.aggregate(
        points_hour=Sum("point_count"),
        batches_minute=Sum(1, filter=Q(created_at__gte=now - timedelta(minutes=1))),
    )
    return Usage(batches_minute=stats["batches_minute"] or 0, points_hour=stats["points_hour"] or 0)
