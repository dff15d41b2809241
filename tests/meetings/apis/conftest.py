"""Clients of the meetings crew (tests/meetings/conftest.py): people by name, and a division token."""

import pytest
from rest_framework.test import APIClient

from tests.meetings.apis import client_of


@pytest.fixture
def api_of(crew):
    """api_of("runtime_member") → an APIClient signed in as that person of the crew."""
    return lambda name: client_of(getattr(crew, name))


@pytest.fixture
def token(crew) -> APIClient:
    """An APIClient with a token of the runtime division."""
    from agents.services.tokens import division_token_create

    _, secret = division_token_create(division=crew.runtime, name="collector")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client
