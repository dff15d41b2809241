"""Helpers of the meetings API tests."""

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"api:meetings:{name}", kwargs=kwargs or None)


def client_of(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def errors(response: Any) -> dict[str, str]:
    return {error["field"]: error["message"] for error in response.json()["errors"]}
