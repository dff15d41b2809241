import pytest

from metrics.models import IngestBatch
from tests.metrics.services.bodies import accept_batch


@pytest.fixture
def ingest(division, token, agent, django_capture_on_commit_callbacks):
    """ingest(body) → the batch, accepted and landed eagerly (Celery runs in-process in unit tests)."""

    def run(body: bytes) -> IngestBatch:
        with django_capture_on_commit_callbacks(execute=True):
            batch = accept_batch(division, token, body)
        batch.refresh_from_db()
        return batch

    return run
