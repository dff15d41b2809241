"""Celery tasks of the ingest pipeline: thin wrappers over metrics.services."""

import logging
from dataclasses import asdict

from celery import shared_task
from django.db import DatabaseError, InterfaceError, OperationalError

from metrics.services.batches import batch_sweep
from metrics.services.landing import batch_fail, batch_process, session_ended
from metrics.services.partitions import partitions_maintain
from metrics.services.temporal import temporal_poll

logger = logging.getLogger(__name__)


@shared_task(
    name="metrics.batch_ingest",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=20,
)
def batch_ingest(batch_id: int) -> str:
    """Move one batch (and other queued batches with it) into the points table and refresh their rollups.

    Safe twice or at once: row locks with SKIP LOCKED admit one runner per batch, points are upserted on
    (series, ts) and rollups on (series, resolution, bucket), and the status moves by compare-and-swap; a task whose
    batch another task already landed finds it done. A lost database, a session the server ended (a worker that froze
    past the idle-in-transaction bound) and a lock timeout are retried with backoff; any other database error fails
    the batch with its reason.
    """
    try:
        return batch_process(batch_id=batch_id)
    except (OperationalError, InterfaceError):
        raise
    except DatabaseError as exc:
        if session_ended(exc):
            raise OperationalError(str(exc)) from exc
        logger.exception("Batch %s failed", batch_id)
        batch_fail(batch_id=batch_id, reason=f"{type(exc).__name__}: {exc}")
        return "failed"


@shared_task(name="metrics.batch_sweep")
def batch_sweep_task() -> int:
    """Re-enqueue batches nobody is moving (broker was down, worker died). Idempotent: see batch_sweep."""
    return len(batch_sweep())


@shared_task(name="metrics.partitions_maintain")
def partitions_maintain_task() -> dict:
    """Create partitions ahead and drop expired ones. Idempotent: CREATE/DROP … IF (NOT) EXISTS."""
    return partitions_maintain()


@shared_task(name="metrics.temporal_poll")
def temporal_poll_task() -> list[dict]:
    """Count the Temporal connections' settled intervals into metrics. Safe twice or late: an interval counted again
    overwrites its points; an unreachable cluster records its error and is tried again next minute."""
    return [asdict(result) for result in temporal_poll()]
