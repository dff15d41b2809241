"""Division clients signing in with a token (agents.authentication)."""

import base64
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from agents.authentication import TOKEN_CACHE_TTL, DivisionPrincipal, DivisionTokenBasicAuthentication
from agents.models import DivisionToken
from agents.services.tokens import division_token_create, division_token_revoke
from novaops import policies
from tests.agents import bearer_client
from tests.factories import DivisionFactory

pytestmark = pytest.mark.django_db


def test_a_token_authenticates_and_records_last_use_at_most_once_a_minute(django_assert_max_num_queries):
    token, secret = division_token_create(division=DivisionFactory(), name="collector")
    client = bearer_client(secret)
    assert client.get("/api/v1/metrics/batches/1").status_code == 404  # authenticated, then no such batch
    first = DivisionToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    with django_assert_max_num_queries(2):  # token lookup + batch lookup: no last_used write this time
        client.get("/api/v1/metrics/batches/1")
    assert DivisionToken.objects.get(pk=token.pk).last_used_at == first
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        client.get("/api/v1/metrics/batches/1")
    assert DivisionToken.objects.get(pk=token.pk).last_used_at > first


def test_a_token_read_moments_ago_costs_no_query(django_assert_num_queries):
    _, secret = division_token_create(division=DivisionFactory(), name="collector")
    client = bearer_client(secret)
    client.get("/api/v1/metrics/batches/1")
    with django_assert_num_queries(1):  # the batch lookup only
        assert client.get("/api/v1/metrics/batches/1").status_code == 404


def test_a_revoked_token_stops_working_within_the_cache_bound():
    token, secret = division_token_create(division=DivisionFactory(), name="collector")
    client = bearer_client(secret)
    assert client.get("/api/v1/metrics/batches/1").status_code == 404
    revoked = division_token_revoke(token=token).revoked_at

    with time_machine.travel(revoked + TOKEN_CACHE_TTL + timedelta(milliseconds=1)):
        response = client.get("/api/v1/metrics/batches/1")
    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]


def test_a_cached_token_still_needs_its_secret_and_still_expires():
    token, secret = division_token_create(
        division=DivisionFactory(), name="collector", expires_at=timezone.now() + timedelta(seconds=2)
    )
    assert bearer_client(secret).get("/api/v1/metrics/batches/1").status_code == 404

    assert bearer_client(secret[:-3] + "xyz").get("/api/v1/metrics/batches/1").status_code == 401
    with time_machine.travel(token.expires_at + timedelta(milliseconds=1)):
        assert bearer_client(secret).get("/api/v1/metrics/batches/1").status_code == 403


def test_a_division_principal_is_a_division_client_without_a_role():
    token, _ = division_token_create(division=DivisionFactory(), name="collector")
    principal = DivisionPrincipal(division=token.division, token=token)

    assert policies.is_division_client(principal)
    assert principal.is_authenticated
    assert not policies.has_role(principal) and not policies.is_lead(principal)
    assert policies.person_of(principal) is None


def _basic(credentials: str) -> Request:
    encoded = base64.b64encode(credentials.encode()).decode()
    return Request(APIRequestFactory().post("/", HTTP_AUTHORIZATION=f"Basic {encoded}"))


def test_the_token_as_a_basic_auth_password_signs_in_its_division():
    token, secret = division_token_create(division=DivisionFactory(), name="pusher")

    principal, used = DivisionTokenBasicAuthentication().authenticate(_basic(f"any-user:{secret}"))

    assert used == token and principal.division == token.division


@pytest.mark.parametrize(
    ("credentials", "message"),
    [("user:nvo_nope_nope", "Invalid token."), ("user:secret", "Malformed token"), ("no-colon", "Malformed token")],
)
def test_a_wrong_basic_auth_password_is_refused(credentials, message):
    with pytest.raises(exceptions.AuthenticationFailed, match=message):
        DivisionTokenBasicAuthentication().authenticate(_basic(credentials))


def test_basic_credentials_that_are_not_base64_are_refused():
    request = Request(APIRequestFactory().post("/", HTTP_AUTHORIZATION="Basic !!!"))

    with pytest.raises(exceptions.AuthenticationFailed, match="Malformed Basic credentials."):
        DivisionTokenBasicAuthentication().authenticate(request)
