"""Tests of the registry app (agents/), laid out like the app; fixtures in conftest.py."""

from rest_framework.test import APIClient


def bearer_client(secret: str) -> APIClient:
    """An API client that presents this division token (`Authorization: Bearer nvo_…`)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client
