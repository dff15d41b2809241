"""Clients of the escalation organisation (tests/escalations/conftest.py): people by name, and division tokens."""

import itertools

import pytest
from rest_framework.test import APIClient

from tests.escalations.apis import client_of


@pytest.fixture
def api_of(org):
    """api_of("runtime_lead") → an APIClient signed in as that person of the org."""
    return lambda name: client_of(org.user(name))


@pytest.fixture
def token_of(org):
    """token_of(division) → an APIClient with a fresh token of that division (runtime by default)."""
    from agents.services.tokens import division_token_create

    names = itertools.count(1)

    def make(division=None) -> APIClient:
        _, secret = division_token_create(division=division or org.runtime, name=f"collector-{next(names)}")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make
