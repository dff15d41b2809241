"""Sign-in throttling (django-axes per username and per address) and its lockout answer (novaops.signin)."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertTemplateUsed

from agents.demo import DEMO_PASSWORD, demo_organisation_seed
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's


def sign_in(username: str, password: str, *, address: str = "192.0.2.1", client: Client | None = None, **extra):
    """POST the sign-in form from this client address (REMOTE_ADDR: no proxy is trusted by default)."""
    client = client or Client()
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, **extra)


def fail_until_locked(username_for, address_for, limit: int):
    """`limit` failed sign-ins; all but the last answer the form again, the last one pauses sign-in (429)."""
    for n in range(limit):
        response = sign_in(username_for(n), "wrong password", address=address_for(n))
        expected = 429 if n == limit - 1 else 200
        assert response.status_code == expected, f"attempt {n + 1} of {limit}"
    return response


def test_the_demo_users_sign_in_with_the_demo_password():
    demo_organisation_seed()
    for username in ("core", "meridian", "member", "viewer"):
        response = sign_in(username, DEMO_PASSWORD)
        assert response.status_code == 302, username
        assert response.url == reverse("dashboards:overview")


def test_a_form_sign_in_opens_the_pages_and_the_api(cast):
    client = Client()
    assert sign_in("viewer", PASSWORD, client=client).status_code == 302
    assert client.get("/registry/agents/").status_code == 200
    assert client.get("/api/v1/agents").status_code == 200


def test_failed_sign_ins_for_one_username_pause_it_from_every_address(cast, settings):
    limit = settings.AXES_FAILURE_LIMIT
    # Each attempt from another address: only the username's count reaches the limit.
    locked = fail_until_locked(lambda n: "member", lambda n: f"192.0.2.{n + 10}", limit)
    assert locked.status_code == 429

    assert sign_in("member", PASSWORD, address="198.51.100.7").status_code == 429, "the right password waits too"
    assert sign_in("viewer", PASSWORD, address="192.0.2.10").status_code == 302, "other accounts sign in"


def test_failed_sign_ins_from_one_address_pause_it_for_every_account(cast, settings):
    limit = settings.AXES_FAILURE_LIMIT
    # Another username each time (as a password sprayer would): only the address's count reaches the limit.
    fail_until_locked(lambda n: f"guess{n}", lambda n: "203.0.113.5", limit)

    assert sign_in("lead", PASSWORD, address="203.0.113.5").status_code == 429
    assert sign_in("lead", PASSWORD, address="203.0.113.6").status_code == 302, "other addresses sign in"


def test_the_lockout_page_says_what_is_paused_and_for_how_long(cast, settings):
    limit = settings.AXES_FAILURE_LIMIT
    response = fail_until_locked(lambda n: "member", lambda n: "192.0.2.50", limit)

    assert response.status_code == 429
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert response["Retry-After"] == str(minutes * 60)
    assertTemplateUsed(response, "registration/locked_out.html")
    assertTemplateUsed(response, "base.html")
    page = response.content.decode()
    assert "Sign-in is paused" in page
    assert f"After {limit} failed attempts" in page
    assert "the account <strong>member</strong> or from your address" in page
    assert f"<strong>{minutes} minutes</strong>" in page
    # Our layout's assets only: no inline script or style (the CSP-ready pages).
    assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", page))
    assert "<style" not in page and " style=" not in page


def test_a_lockout_answers_problem_json_to_json_clients(cast, settings):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        sign_in("member", "wrong password")
    response = sign_in("member", "wrong password", HTTP_ACCEPT="application/json")
    body = assert_problem(response, 429)
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert body["detail"].startswith(f"Sign-in is paused for {minutes} minutes for this account or from this address")
    assert response["Retry-After"] == str(minutes * 60)


def test_the_pause_ends_after_the_cool_off_and_attempts_during_it_do_not_extend_it(cast, settings):
    limit = settings.AXES_FAILURE_LIMIT
    cool_off = settings.AXES_COOLOFF_TIME
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        fail_until_locked(lambda n: "member", lambda n: "192.0.2.60", limit)

        traveller.shift(cool_off - timedelta(minutes=1))
        assert sign_in("member", PASSWORD, address="192.0.2.60").status_code == 429, "still paused"

        traveller.shift(timedelta(minutes=2))
        # The attempt a minute before the end did not restart the pause.
        assert sign_in("member", PASSWORD, address="192.0.2.60").status_code == 302


def test_a_lockout_pauses_sign_in_not_sessions_or_api_tokens(cast, token_client, settings):
    """Only the sign-in form authenticates with a password: a session signed in before, and the API's division
    tokens, go on working while the account is paused."""
    signed_in = Client()
    assert sign_in("member", PASSWORD, client=signed_in).status_code == 302
    fail_until_locked(lambda n: "member", lambda n: "198.51.100.20", settings.AXES_FAILURE_LIMIT)

    assert signed_in.get("/registry/agents/").status_code == 200
    assert signed_in.get("/api/v1/agents").status_code == 200
    assert token_client.get("/api/v1/metrics/batches/1").status_code == 404  # authenticated: no such batch
