import time

import pytest

from novaops.celery import app
from novaops.models import Heartbeat
from novaops.tasks import worker_heartbeat


@pytest.mark.worker
def test_worker_heartbeat_runs_in_a_real_worker(broker, workers):
    worker = workers()

    with app.connection_for_write(broker.url) as connection:
        worker_heartbeat.apply_async(args=["test-worker"], connection=connection)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not Heartbeat.objects.filter(component="test-worker").exists():
        if worker.process.poll() is not None:
            break
        time.sleep(0.2)
    if not Heartbeat.objects.filter(component="test-worker").exists():
        pytest.fail("no heartbeat; worker said:\n" + worker.output())
    heartbeat = Heartbeat.objects.get(component="test-worker")
    assert heartbeat.detail.startswith("celery@"), "the row was written by the worker, which names itself"
    # Publishing stamped the time it was sent, which the worker recorded as beat's.
    assert Heartbeat.objects.get(component="celery-beat").seen_at <= heartbeat.seen_at


def test_worker_heartbeat_twice_keeps_one_row_and_moves_forward(db):
    worker_heartbeat.apply(args=["twice"])
    first = Heartbeat.objects.get(component="twice").seen_at
    worker_heartbeat.apply(args=["twice"])
    assert Heartbeat.objects.filter(component="twice").count() == 1
    assert Heartbeat.objects.get(component="twice").seen_at >= first


def test_celery_settings_follow_the_reliability_rules():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    options = conf.broker_transport_options
    assert options["socket_timeout"] <= 5 and options["socket_connect_timeout"] <= 5
    assert conf.task_time_limit < options["visibility_timeout"]


def test_publishing_the_heartbeat_stamps_when_it_was_sent():
    from datetime import UTC, datetime

    import time_machine

    from novaops.tasks import HEARTBEAT_TASK, _stamp_heartbeat_sent_at

    body = ((), {}, {})
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False):
        _stamp_heartbeat_sent_at(sender=HEARTBEAT_TASK, body=body)
    assert body[1] == {"sent_at": "2026-03-02T09:00:00+00:00"}
    other = ((), {}, {})
    _stamp_heartbeat_sent_at(sender="metrics.batch_ingest", body=other)
    assert other[1] == {}
