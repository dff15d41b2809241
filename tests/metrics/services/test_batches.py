"""metrics.services.batches: enqueueing a batch, and the sweeper that enqueues what no worker is moving."""

from datetime import timedelta

from celery.signals import task_prerun
from django.utils import timezone

from metrics.models import IngestBatch, Point
from metrics.services.batches import batch_enqueue, batch_sweep
from tests.metrics.services.bodies import accept_batch, points_body


def test_a_batch_is_marked_enqueued_before_its_task_can_run(division, token, agent):
    # Marked after publishing, the UPDATE could hold the row just as a fast worker takes it with SKIP LOCKED, and
    # that worker would leave the batch processing for the sweeper (seen in CI). Eager Celery runs the task inside
    # apply_async, so the prerun handler sees what a worker would see.
    seen = []

    def record(task_id, task, args, **kwargs):
        seen.append(IngestBatch.objects.values_list("enqueued_at", flat=True).get(pk=args[0]))

    batch = accept_batch(division, token, points_body((0, 1.0)))
    task_prerun.connect(record)
    try:
        assert batch_enqueue(batch_id=batch.pk)
    finally:
        task_prerun.disconnect(record)
    assert len(seen) == 1 and seen[0] is not None
    batch.refresh_from_db()
    assert batch.status == "done"


def test_the_sweeper_enqueues_batches_the_broker_never_got(division, token, agent):
    # accepted while the broker was down: on_commit's publish failed and took the enqueued mark back
    batch = accept_batch(division, token, points_body((0, 1.0)))
    IngestBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(minutes=1), enqueued_at=None)

    assert batch_sweep() == [batch.pk]  # eager Celery in unit tests: the task ran right here

    batch.refresh_from_db()
    assert batch.status == "done" and Point.objects.count() == 1


def test_the_sweeper_leaves_fresh_and_finished_batches_alone(ingest, division, token):
    ingest(points_body((0, 1.0)))
    fresh = accept_batch(division, token, points_body((5, 1.0)))
    assert batch_sweep() == []
    fresh.refresh_from_db()
    assert fresh.status == "queued"


def test_the_sweeper_picks_up_a_batch_a_dead_worker_left_processing(division, token, agent):
    batch = accept_batch(division, token, points_body((0, 1.0)))
    IngestBatch.objects.filter(pk=batch.pk).update(
        status="processing", started_at=timezone.now() - timedelta(minutes=5), enqueued_at=timezone.now()
    )
    assert batch_sweep() == [batch.pk]
    batch.refresh_from_db()
    assert batch.status == "done"
