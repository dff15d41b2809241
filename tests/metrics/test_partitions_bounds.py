"""The bounds on database connections (novaops/settings.py) against a partitioned network: a worker that freezes or
vanishes inside its batch transaction loses its session to the server, and its batches land once, through the
sweeper and another worker; waiting for a lock ends in a retry, never in a failed batch.

A frozen process stands for a host cut off from the network: both stop answering with the transaction open, and
SIGSTOP makes the moment deterministic where pulling a cable cannot (`python -m bench scale` does that for real).
"""

from __future__ import annotations

import json
import os
import re
import signal
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction

from metrics.models import IngestBatch
from metrics.services.batches import batch_accept, batch_sweep
from metrics.services.landing import ROLLUP_LOCK_NAMESPACE, ROLLUP_LOCK_SLOTS, batch_process
from metrics.tasks import batch_ingest
from tests.factories import AgentFactory, DivisionFactory
from tests.helpers.processes import wait_until

# Recent enough for the retention window, old enough never to be "in the future"; whole minutes.
BASE = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
# The worker's idle-in-transaction bound in the frozen-worker test: short, so the server acts within the test, and
# long enough for a busy machine to see the session idle (and the sweeper leave it alone) first.
FROZEN_IDLE_SECONDS = 5


def _body(case: str, n: int, *, start: int = 0) -> bytes:
    points = [
        {
            "metric": "latency_p95_ms",
            "agent": "ta_00008",
            "ts": (BASE + timedelta(minutes=start + i)).isoformat(),
            "value": start + i + 0.5,
            "tags": {"case": case},
        }
        for i in range(n)
    ]
    return json.dumps({"points": points}).encode()


@pytest.fixture
def division(transactional_db, points_cleanup):
    """A division with agent ta_00008, committed: the worker processes must see it."""
    division = DivisionFactory(name="NovaCore Runtime", slug="novacore-runtime")
    AgentFactory(handle="ta_00008", callsign="Core", division=division)
    return division


@pytest.fixture
def rollup_slots_held(blocker):
    """Hold every rollup slot lock exclusively in another session: a landing then waits inside its batch
    transaction, holding its batch rows, right after copying its points (metrics.services.landing._points_merge)."""
    blocker.execute(
        "SELECT count(pg_advisory_xact_lock(%s, slot)) FROM generate_series(0, %s) slot",
        [ROLLUP_LOCK_NAMESPACE, ROLLUP_LOCK_SLOTS - 1],
    ).fetchone()
    return blocker


def _landed(case: str) -> tuple[int, int, int]:
    """(points stored, distinct timestamps among them, points counted by the 5-minute rollups) of the case."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), count(DISTINCT p.ts),
                   (SELECT coalesce(sum(r.count), 0) FROM metrics_rollup r JOIN metrics_series rs ON rs.id = r.series_id
                    WHERE r.resolution = 300 AND rs.tags = jsonb_build_object('case', %s::text))
            FROM metrics_point p JOIN metrics_series s ON s.id = p.series_id
            WHERE s.tags = jsonb_build_object('case', %s::text)
            """,
            [case, case],
        )
        stored, distinct, rolled_up = cursor.fetchone()
    return stored, distinct, int(rolled_up)


def _landing_backends() -> list[tuple[int, str, str | None]]:
    """(pid, state, wait_event_type) of the other sessions of the test database inside a landing transaction, seen
    by the rollup slot lock they take after copying their points."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT pid, state, wait_event_type FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
              AND query ILIKE %s
            """,
            ["%pg_advisory_xact_lock_shared%"],
        )
        return cursor.fetchall()


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] > 0


def _batches(ids: list[int]) -> dict[int, tuple[str, int]]:
    return {
        pk: (status, attempts)
        for pk, status, attempts in IngestBatch.objects.filter(pk__in=ids).values_list("pk", "status", "attempts")
    }


def test_every_connection_carries_the_bounds(db):
    """The bounds travel in the connection options, so every process (web, worker, beat, manage.py) has them."""
    options = settings.DATABASES["default"]["OPTIONS"]
    assert (options["keepalives"], options["keepalives_idle"]) == (1, settings.DATABASE_KEEPALIVES_IDLE)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('idle_in_transaction_session_timeout')::interval,"
            " current_setting('lock_timeout')::interval"
        )
        idle, lock = cursor.fetchone()
    assert idle == timedelta(seconds=settings.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT) > timedelta(0)
    assert lock == timedelta(seconds=settings.DATABASE_LOCK_TIMEOUT) > timedelta(0)


def test_a_lock_timeout_leaves_the_batch_to_a_retry(division, rollup_slots_held):
    """A landing that waits past lock_timeout raises OperationalError (the task's retry), keeps its batch processing
    with its payload rather than failing it, and the retry lands it, counted as a second attempt."""
    accepted = batch_accept(division=division, token=None, body=_body("lock-timeout", 5), enqueue=False)
    batch_id = accepted.batch.pk
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    try:
        with pytest.raises(OperationalError, match="lock timeout"):
            batch_process(batch_id=batch_id)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    batch = IngestBatch.objects.get(pk=batch_id)
    assert (batch.status, batch.attempts, batch.payload is not None) == ("processing", 1, True)
    assert _landed("lock-timeout") == (0, 0, 0)

    rollup_slots_held.rollback()
    assert batch_process(batch_id=batch_id) == "done"
    assert _batches([batch_id]) == {batch_id: ("done", 2)}
    assert _landed("lock-timeout") == (5, 5, 5)


def test_a_session_the_server_ended_is_retried_not_failed(division, blocker):
    """A worker that wakes after the server ended its session (idle in a transaction past the bound) meets a FATAL
    error, which psycopg reports as an InternalError: the ingest task raises OperationalError, its retry, and leaves
    the batch as it was rather than failing it."""
    batch_id = batch_accept(division=division, token=None, body=_body("ended", 5), enqueue=False).batch.pk
    blocker.autocommit = True  # a fresh pg_stat_activity at every poll, not one transaction's snapshot
    with pytest.raises(OperationalError, match="idle-in-transaction timeout"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL idle_in_transaction_session_timeout = '100ms'")
            cursor.execute("SELECT pg_backend_pid()")
            [backend] = cursor.fetchone()
        wait_until(
            lambda: (
                blocker.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backend]).fetchone() == (0,)
            ),
            timeout=10,
            what="the server to end the idle session",
        )
        batch_ingest(batch_id)
    assert _batches([batch_id]) == {batch_id: ("queued", 0)}
    assert batch_ingest(batch_id) == "done"
    assert _batches([batch_id]) == {batch_id: ("done", 1)}
    assert _landed("ended") == (5, 5, 5)


@pytest.mark.worker
def test_a_worker_frozen_inside_its_batch_transaction_loses_its_session_and_its_batches_land_once(
    division, broker, workers, celery_on_broker, rollup_slots_held, monkeypatch
):
    """A worker frozen mid-transaction (SIGSTOP of its pool child) holds a group of two batches. The server ends its
    session once it has been idle in the transaction for the bound; the sweeper hands both batches to a second
    worker, which lands each point once. The frozen worker, woken, finds its session gone, retries rather than
    failing the batches, and finds them landed. Each batch ran twice, and says so."""
    monkeypatch.setenv("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", str(FROZEN_IDLE_SECONDS))
    # Two batches queued before any worker runs: the first task claims both (the grouped landing).
    first = batch_accept(division=division, token=None, body=_body("frozen", 5)).batch.pk
    second = batch_accept(division=division, token=None, body=_body("frozen", 5, start=5)).batch.pk
    frozen = workers()
    [(backend, _, _)] = wait_until(
        lambda: [row for row in _landing_backends() if row[2] == "Lock"],
        timeout=30,
        what="the worker to wait inside its batch transaction",
    )
    assert _batches([first, second]) == {first: ("processing", 1), second: ("processing", 1)}

    [child] = frozen.pool_children()
    os.kill(child, signal.SIGSTOP)
    try:
        rollup_slots_held.rollback()
        # The lock granted, the server answers into the frozen process and waits for its next statement.
        wait_until(
            lambda: (backend, "idle in transaction", "Client") in _landing_backends(),
            timeout=10,
            what="the frozen worker's session to sit idle in its transaction",
        )
        # A live session holds the batches: the sweeper leaves them alone (SKIP LOCKED), however old they are.
        assert batch_sweep(stalled_after=timedelta(0)) == []
        wait_until(
            lambda: not _backend_alive(backend),
            timeout=FROZEN_IDLE_SECONDS + 10,
            what="the server to end the frozen worker's session",
        )
        # Its transaction rolled back whole.
        assert _landed("frozen") == (0, 0, 0)
        assert sorted(batch_sweep(stalled_after=timedelta(0))) == [first, second]

        second_worker = workers()
        wait_until(
            lambda: set(_batches([first, second]).values()) == {("done", 2)},
            timeout=30,
            what="both batches to be landed by the second worker",
        )
    finally:
        os.kill(child, signal.SIGCONT)

    # Woken, it finds its session gone: a lost connection, which the task retries (on either worker) rather than
    # failing the batch; the retry finds the batch landed and counts no attempt.
    retried = wait_until(
        lambda: re.search(r"batch_ingest\[([0-9a-f-]+)\] retry: .*OperationalError", frozen.output()),
        timeout=30,
        what="the woken worker to retry its task",
    ).group(1)
    outcome = wait_until(
        lambda: re.search(rf"{retried}\] succeeded in [0-9.]+s: '([a-z ]+)'", frozen.output() + second_worker.output()),
        timeout=30,
        what="the retried task to run",
    ).group(1)
    assert outcome == "not pending"
    assert _batches([first, second]) == {first: ("done", 2), second: ("done", 2)}
    assert _landed("frozen") == (10, 10, 10)
