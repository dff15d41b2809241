import pytest

from agents.tokens import division_token_create
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
