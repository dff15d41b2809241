import json

import pytest

from agents.tokens import division_token_create
from metrics.models import IngestBatch
from metrics.services.batches import batch_accept
from tests.factories import AgentFactory, DivisionFactory


@pytest.fixture
def division(db):
    return DivisionFactory(name="NovaCore Runtime", slug="novacore-runtime")


@pytest.fixture
def agent(division):
    return AgentFactory(handle="ta_00008", callsign="Core", division=division)


@pytest.fixture
def token(division):
    """(DivisionToken, secret) for the division."""
    return division_token_create(division=division, name="collector")


@pytest.fixture
def land(django_capture_on_commit_callbacks):
    """land(division, [(metric, handle or None, ts, value), …]) → the batch, accepted and processed eagerly."""

    def run(division, points) -> IngestBatch:
        body = {
            "points": [
                {"metric": metric, "ts": ts.isoformat(), "value": value, **({"agent": handle} if handle else {})}
                for metric, handle, ts, value in points
            ]
        }
        with django_capture_on_commit_callbacks(execute=True):
            accepted = batch_accept(division=division, token=None, body=json.dumps(body).encode())
        batch = IngestBatch.objects.get(pk=accepted.batch.pk)
        assert batch.status == IngestBatch.Status.DONE, batch.error
        return batch

    return run


@pytest.fixture
def ingest_client(token):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token[1]}")
    return client


# The fault-tolerance tests' fixtures (real gunicorn, Celery workers, private Valkey and PostgreSQL) live apart.
from tests.metrics.conftest_faults import (  # noqa: E402, F401
    blocker,
    broker,
    celery_on_broker,
    gunicorn,
    points_cleanup,
    private_postgres,
    workers,
)
