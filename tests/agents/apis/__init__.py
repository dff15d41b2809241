"""Helpers of the registry API tests."""

from typing import Any

from django.urls import reverse

# A valid new agent for the cast's division (NovaCore Runtime).
NEW_AGENT = {"handle": "ta_00300", "callsign": "Nova", "division": "novacore-runtime"}


def url(name: str, **kwargs: str) -> str:
    return reverse(f"api:agents:{name}", kwargs=kwargs or None)


def handles(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [agent["handle"] for agent in response.json()["results"]]
