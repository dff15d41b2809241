"""The Temporal poll against a real dev server: exact counts, a rerun that changes nothing, an unreachable cluster,
an outage caught up without a gap."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from metrics.models import Point, TemporalConnection, TemporalMapping
from metrics.services.temporal import (
    INTERVAL,
    MAX_INTERVALS_PER_RUN,
    SETTLE,
    interval_floor,
    poll_window,
    temporal_poll,
)
from tests.helpers.processes import free_port
from tests.helpers.temporal import workflows_run

pytestmark = pytest.mark.temporal


@pytest.fixture
def poll(django_capture_on_commit_callbacks):
    """poll(now) → the results of one temporal_poll, its batches landed (on commit, eagerly)."""

    def run(now):
        with django_capture_on_commit_callbacks(execute=True):
            return temporal_poll(now=now)

    return run


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


def _connection(address: str, *, name: str = "dev", since=None) -> TemporalConnection:
    return TemporalConnection.objects.create(name=name, address=address, namespace="default", last_polled_until=since)


def _points(metric: str) -> dict[tuple[str, object], float]:
    """{(workflow type or task queue, ts): value} of a metric."""
    rows = Point.objects.filter(series__metric__key=metric).values_list("series__tags", "ts", "value")
    return {(tags.get("workflow_type") or tags.get("task_queue"), ts): value for tags, ts, value in rows}


def _totals(metric: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for (name, _ts), value in _points(metric).items():
        totals[name] = totals.get(name, 0) + value
    return totals


def _after_everything():
    """A `now` for which the interval of this very moment has settled: every workflow run so far is counted."""
    return timezone.now() + INTERVAL + SETTLE


def test_the_poll_reports_exactly_the_workflows_run(temporal_server, division, agent, task_queue, poll):
    connection = _connection(temporal_server.address, since=interval_floor(timezone.now()))
    TemporalMapping.objects.create(connection=connection, task_queue=task_queue, division=division, agent=agent)

    workflows_run(temporal_server.address, task_queue=task_queue, completed=3, failed=2, timed_out=1, running=1)
    [result] = poll(_after_everything())

    assert result.error == "" and result.intervals >= 1
    assert _totals("temporal_workflows_started") == {"Succeeds": 3, "Fails": 2, "Sleeps": 2}
    assert _totals("temporal_workflows_completed") == {"Succeeds": 3, "Fails": 0, "Sleeps": 0}
    assert _totals("temporal_workflows_failed") == {"Succeeds": 0, "Fails": 2, "Sleeps": 0}
    assert _totals("temporal_workflows_timed_out") == {"Succeeds": 0, "Fails": 0, "Sleeps": 1}
    assert _totals("temporal_workflows_cancelled") == {"Succeeds": 0, "Fails": 0, "Sleeps": 0}
    last = max(ts for _name, ts in _points("temporal_workflows_running"))
    assert _points("temporal_workflows_running")[("Sleeps", last)] == 1
    # The one timed out ran about its one-second timeout.
    assert sum(v for (name, _), v in _points("temporal_workflow_duration_p95_ms").items() if name == "Sleeps") >= 900
    # The sleeping workflow's task waits on the queue once the worker is gone.
    assert _points("temporal_task_queue_backlog")[(task_queue, last)] >= 0
    assert set(Point.objects.values_list("series__agent__handle", flat=True)) == {agent.handle}
    assert set(Point.objects.values_list("series__division", flat=True)) == {division.pk}


def test_a_rerun_of_the_same_intervals_changes_nothing(temporal_server, division, task_queue, poll):
    since = interval_floor(timezone.now())
    connection = _connection(temporal_server.address, since=since)
    TemporalMapping.objects.create(connection=connection, task_queue=task_queue, division=division)
    workflows_run(temporal_server.address, task_queue=task_queue, completed=2, failed=1)
    now = _after_everything()
    poll(now)
    before = sorted(Point.objects.values_list("series_id", "ts", "value"))

    TemporalConnection.objects.filter(pk=connection.pk).update(last_polled_until=since)  # as if the mark was lost
    poll(now)
    poll(now)  # and a run with nothing new to count

    assert sorted(Point.objects.values_list("series_id", "ts", "value")) == before
    assert _totals("temporal_workflows_started") == {"Succeeds": 2, "Fails": 1}


def test_an_unreachable_cluster_records_its_error_and_the_others_are_still_polled(
    temporal_server, division, task_queue, poll
):
    since = interval_floor(timezone.now()) - INTERVAL
    closed = _connection(f"127.0.0.1:{free_port()}", name="gone", since=since)
    TemporalMapping.objects.create(connection=closed, task_queue="anything", division=division)
    alive = _connection(temporal_server.address, name="alive", since=since)
    TemporalMapping.objects.create(connection=alive, task_queue=task_queue, division=division)
    now = _after_everything()

    results = {result.connection: result for result in poll(now)}

    closed.refresh_from_db()
    alive.refresh_from_db()
    assert "refused" in results["gone"].error.lower() and closed.last_error == results["gone"].error
    assert closed.last_error_at is not None and closed.last_polled_until == since
    assert results["alive"].error == "" and alive.last_polled_until == poll_window_end(now)


def poll_window_end(now):
    return interval_floor(now - SETTLE)


def test_an_outage_is_caught_up_over_the_next_runs_without_a_gap(temporal_server, division, task_queue, poll):
    now = _after_everything()
    since = interval_floor(now) - 2 * MAX_INTERVALS_PER_RUN * INTERVAL - 5 * INTERVAL
    connection = _connection(temporal_server.address, since=since)
    TemporalMapping.objects.create(
        connection=connection, task_queue=task_queue, workflow_type="Succeeds", division=division
    )
    workflows_run(temporal_server.address, task_queue=task_queue, completed=2)

    runs = 0
    while poll_window(connection=connection, now=now) is not None:
        poll(now)
        connection.refresh_from_db()
        runs += 1
        assert runs <= 4

    assert runs == 3 and connection.last_polled_until == poll_window_end(now)
    started = _points("temporal_workflows_started")
    minutes = (poll_window_end(now) - since) // INTERVAL
    assert sorted(ts for _name, ts in started) == [since + n * INTERVAL for n in range(minutes)]
    assert sum(started.values()) == 2


def test_a_connection_without_mappings_or_disabled_is_left_alone(temporal_server, division, poll):
    since = interval_floor(timezone.now()) - timedelta(minutes=5)
    unmapped = _connection(temporal_server.address, name="unmapped", since=since)
    disabled = _connection(f"127.0.0.1:{free_port()}", name="off", since=since)
    TemporalMapping.objects.create(connection=disabled, task_queue="q", division=division)
    TemporalConnection.objects.filter(pk=disabled.pk).update(enabled=False)

    assert [result.connection for result in poll(_after_everything())] == ["unmapped"]
    unmapped.refresh_from_db()
    assert unmapped.last_polled_until == since and Point.objects.count() == 0


def test_the_beat_task_is_scheduled_every_minute_and_never_raises_for_a_cluster(division):
    from django.conf import settings

    from metrics.tasks import temporal_poll_task
    from novaops.celery import app

    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "metrics.temporal_poll"]
    assert entry["schedule"] == 60.0 and "metrics.temporal_poll" in app.tasks
    gone = _connection(f"127.0.0.1:{free_port()}", name="gone", since=interval_floor(timezone.now()) - 3 * INTERVAL)
    TemporalMapping.objects.create(connection=gone, task_queue="q", division=division)

    [result] = temporal_poll_task.delay().get()

    gone.refresh_from_db()
    assert result["connection"] == "gone" and result["error"] == gone.last_error != ""
