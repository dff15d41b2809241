"""Helpers of the escalations API tests."""

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"api:escalations:{name}", kwargs=kwargs or None)


def client_of(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def numbers(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [ticket["number"] for ticket in response.json()["results"]]
