"""The Temporal source: the visibility query, counting per interval, and reading a real dev server."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus as Status

from metrics.sources.temporal import (
    Execution,
    Scope,
    Target,
    TemporalSourceError,
    interval_counts,
    temporal_read,
    visibility_query,
)
from tests.helpers.processes import free_port
from tests.helpers.temporal import workflows_run

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_query_selects_what_was_alive_in_the_window_and_quotes_names():
    query = visibility_query(Scope(task_queue="it's", workflow_type="Pay"), start=T0, end=T0 + MINUTE)

    assert query == (
        "TaskQueue = 'it\\'s' AND WorkflowType = 'Pay' AND StartTime < '2026-12-02T10:01:00.000000Z' AND "
        "(ExecutionStatus = 'Running' OR CloseTime >= '2026-12-02T10:00:00.000000Z')"
    )


def test_counts_fall_in_the_interval_of_their_event_and_the_ends_are_exclusive():
    runs = [
        Execution("Pay", Status.COMPLETED, start=_at(-30), close=_at(10)),  # started before, closed in the first
        Execution("Pay", Status.FAILED, start=_at(5), close=_at(60)),  # closes exactly at the second's start
        Execution("Pay", Status.TIMED_OUT, start=_at(61), close=_at(62)),
        Execution("Pay", Status.CANCELED, start=_at(70), close=_at(80)),
        Execution("Pay", Status.RUNNING, start=_at(59), close=None),
        Execution("Ship", Status.TERMINATED, start=_at(1), close=_at(2)),
    ]

    counts = interval_counts(runs, start=T0, end=T0 + 2 * MINUTE, step=MINUTE, types=["Idle"])

    first, second = counts[(T0, "Pay")], counts[(T0 + MINUTE, "Pay")]
    assert (first["temporal_workflows_started"], second["temporal_workflows_started"]) == (2, 2)
    assert (first["temporal_workflows_completed"], first["temporal_workflows_failed"]) == (1, 0)
    assert second["temporal_workflows_failed"] == 1 and second["temporal_workflows_timed_out"] == 1
    assert second["temporal_workflows_cancelled"] == 1
    assert (first["temporal_workflows_running"], second["temporal_workflows_running"]) == (2, 1)
    assert first["temporal_workflow_duration_p50_ms"] == 40_000
    assert second["temporal_workflow_duration_p50_ms"] == 10_000  # of 55 s, 1 s and 10 s
    # A terminated run counts in no status but in the durations; a type with nothing gets zeros and no durations.
    assert counts[(T0, "Ship")]["temporal_workflow_duration_p95_ms"] == 1000
    assert counts[(T0, "Idle")] == counts[(T0 + MINUTE, "Idle")]
    assert "temporal_workflow_duration_p50_ms" not in counts[(T0, "Idle")]
    assert set(counts[(T0, "Idle")].values()) == {0}


def test_counting_is_the_same_every_time():
    runs = [Execution("Pay", Status.COMPLETED, start=_at(n), close=_at(n + 3)) for n in range(0, 170, 7)]
    once = interval_counts(runs, start=T0, end=T0 + 3 * MINUTE, step=MINUTE)
    assert interval_counts(list(reversed(runs)), start=T0, end=T0 + 3 * MINUTE, step=MINUTE) == once
    assert sum(values["temporal_workflows_started"] for values in once.values()) == len(runs)


@pytest.mark.temporal
def test_reading_a_real_server(temporal_server):
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    workflows_run(temporal_server.address, task_queue=queue, completed=2, failed=1, timed_out=1)
    end = datetime.now(UTC) + MINUTE

    target = Target(address=temporal_server.address, namespace="default")
    readings = temporal_read(target, [Scope(task_queue=queue)], start=start, end=end, timeout=timedelta(seconds=30))

    reading = readings[Scope(task_queue=queue)]
    statuses = sorted((e.workflow_type, e.status.name) for e in reading.executions)
    assert statuses == [
        ("Fails", "FAILED"),
        ("Sleeps", "TIMED_OUT"),
        ("Succeeds", "COMPLETED"),
        ("Succeeds", "COMPLETED"),
    ]
    assert reading.backlog is not None and reading.backlog >= 0


@pytest.mark.temporal
def test_an_unreachable_cluster_is_one_clear_error():
    target = Target(address=f"127.0.0.1:{free_port()}", namespace="default", api_key="")
    with pytest.raises(TemporalSourceError, match="(?i)refused"):
        temporal_read(target, [Scope(task_queue="q")], start=T0, end=T0 + MINUTE, timeout=timedelta(seconds=20))
