"""The API tokens page (agents/views/tokens.py): leads only, the secret shown once (and working), precise 400/404
answers, query budget."""

import html
import json
import re
import shlex
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects, assertTemplateUsed

from agents.models import DivisionToken
from agents.services.tokens import division_token_create, division_token_revoke
from metrics.models import Metric
from metrics.services.catalogue import default_metrics
from tests.agents import bearer_client
from tests.factories import AgentFactory, DivisionFactory, DomainFactory
from tests.helpers import SESSION_SAVE_QUERIES

ROLES = ["lead", "superuser", "member", "other_member", "viewer", "no_role", "anonymous"]
# The page is for those who hand out credentials: Tier 1 leads and superusers.
ALLOWED = {"lead", "superuser"}
REFUSED = {"member": 403, "other_member": 403, "viewer": 403, "no_role": 403, "anonymous": 302}

LIST_URL = reverse("agents:token_list")
CREATE_URL = reverse("agents:token_create")


def _revoke_url(token: DivisionToken) -> str:
    return reverse("agents:token_revoke", kwargs={"token_id": token.pk})


def _secret(response) -> str:
    """The secret shown on the "token created" page."""
    match = re.search(r'id="new-token-secret"[^>]* value="([^"]+)"', response.content.decode())
    assert match, "no secret on the page"
    return match.group(1)


def _create(client, cast, **data):
    return client.post(CREATE_URL, {"division": cast.division.slug, "name": "collector", "expires": "90", **data})


# --- who gets what -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_list_answers_each_role(client_as, cast, role):
    response = client_as(role).get(LIST_URL)

    if role in ALLOWED:
        assert response.status_code == 200
        assertContains(response, "<h1>API tokens</h1>")
    else:
        assert response.status_code == REFUSED[role]
    if role == "anonymous":
        assertRedirects(response, f"{reverse('login')}?next={LIST_URL}", fetch_redirect_response=False)
    elif role in {"member", "other_member", "viewer"}:
        assertTemplateUsed(response, "errors/403.html")
        assertContains(response, "managed by the Tier 1 leads", status_code=403)
    elif role == "no_role":
        assertContains(response, "Ask an administrator", status_code=403)


@pytest.mark.parametrize("role", ROLES)
def test_create_only_when_allowed(client_as, cast, role):
    response = _create(client_as(role), cast)

    if role in ALLOWED:
        assert response.status_code == 201
        token = DivisionToken.objects.get()
        assert (token.division, token.name, token.created_by.username) == (
            cast.division,
            "collector",
            "lead" if role == "lead" else "root",
        )
    else:
        assert response.status_code == REFUSED[role]
        assert not DivisionToken.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_revoke_only_when_allowed(client_as, cast, role):
    token, _ = division_token_create(division=cast.division, name="collector")
    client = client_as(role)

    confirm = client.get(_revoke_url(token))
    response = client.post(_revoke_url(token))

    token.refresh_from_db()
    if role in ALLOWED:
        assert confirm.status_code == 200
        assertRedirects(response, LIST_URL, fetch_redirect_response=False)
        assert token.revoked_at is not None
    else:
        assert (confirm.status_code, response.status_code) == (REFUSED[role], REFUSED[role])
        assert token.revoked_at is None


@pytest.mark.parametrize("role", ROLES)
def test_nav_link_only_for_those_allowed(client_as, cast, role):
    response = client_as(role).get(reverse("agents:domain_list"))
    if response.status_code != 200:
        return  # no_role and anonymous see no layout with a nav at all
    assert (f'href="{LIST_URL}"' in response.content.decode()) is (role in ALLOWED)


def test_nav_link_is_current_on_the_page(client_as, cast):
    assertContains(client_as("lead").get(LIST_URL), f'href="{LIST_URL}" aria-current="page">API tokens')


# --- the list ------------------------------------------------------------------------------------------------------


def test_list_shows_every_division_token_with_prefix_and_state(client_as, cast):
    orchops = DivisionFactory(domain=DomainFactory(name="OrchOps", slug="orchops"), name="Workflow", slug="workflow")
    active, _ = division_token_create(division=cast.division, name="collector-eu-1")
    expired, _ = division_token_create(
        division=cast.other_division, name="old-ci", expires_at=timezone.now() + timedelta(days=1)
    )
    DivisionToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    revoked, _ = division_token_create(division=orchops, name="laptop")
    division_token_revoke(token=revoked)
    DivisionToken.objects.filter(pk=active.pk).update(last_used_at=datetime(2026, 11, 27, 10, 5, tzinfo=UTC))

    response = client_as("lead").get(LIST_URL)
    page = response.content.decode()

    assert [t.name for t in response.context["tokens"]] == ["collector-eu-1", "old-ci", "laptop"]
    for token in (active, expired, revoked):
        assert f'<code class="app-token-prefix">nvo_{token.prefix}_…</code>' in page
    assert 'token-state--active">Active' in page
    assert 'token-state--expired">Expired' in page
    assert 'token-state--revoked">Revoked' in page
    assert "27 Nov 2026" in page and "10:05 UTC" in page
    assert "Never used" in page
    # Revoked tokens offer no second revoke; the others do, each with its dialog.
    assert f'href="{_revoke_url(active)}"' in page and f'href="{_revoke_url(expired)}"' in page
    assert f'href="{_revoke_url(revoked)}"' not in page
    assert f'<dialog id="revoke-{active.pk}"' in page


def test_list_filters_by_division(client_as, cast):
    division_token_create(division=cast.division, name="mine")
    division_token_create(division=cast.other_division, name="theirs")

    response = client_as("lead").get(f"{LIST_URL}?division=tool-ecosystem")

    assert [t.name for t in response.context["tokens"]] == ["theirs"]
    assertContains(response, '<option value="tool-ecosystem" selected>Tool Ecosystem</option>')
    # The new-token form starts on the division being looked at.
    assert response.context["create_form"]["division"].value() == "tool-ecosystem"


def test_unknown_division_filter_is_400_and_lists_nothing(client_as, cast):
    division_token_create(division=cast.division, name="mine")

    response = client_as("lead").get(f"{LIST_URL}?division=atlantis")

    assert response.status_code == 400
    assert response.context["tokens"] is None
    assertContains(response, html.escape("No division with slug 'atlantis'."), status_code=400)
    assertNotContains(response, "app-token-prefix", status_code=400)


def test_empty_states(client_as, cast):
    assertContains(client_as("lead").get(LIST_URL), "No API tokens yet.")
    division_token_create(division=cast.division, name="mine")
    response = client_as("lead").get(f"{LIST_URL}?division=tool-ecosystem")
    assertContains(response, "This division has no API tokens yet.")
    assertContains(response, "Show all divisions")


def test_list_refuses_post(client_as, cast):
    assert client_as("lead").post(LIST_URL).status_code == 405


# --- create: the secret, once --------------------------------------------------------------------------------------


def test_created_secret_is_shown_once_and_works_as_a_bearer_token(client_as, cast):
    client = client_as("lead")
    response = _create(client, cast)
    secret = _secret(response)
    token = DivisionToken.objects.get()

    assert secret.startswith(f"nvo_{token.prefix}_")
    assertContains(response, "will not be shown again", status_code=201)
    assertContains(response, 'data-copy="#new-token-secret"', status_code=201)
    assert "no-store" in response["Cache-Control"]

    answer = bearer_client(secret).get("/api/v1/metrics/batches/1")  # authenticated, then no such batch
    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("application/problem+json")

    # Never again: not on the list, not in the cookies, not in the session or message storage.
    later = client.get(LIST_URL)
    assert secret not in later.content.decode()
    assert secret.split("_", 2)[2] not in later.content.decode()
    assertContains(later, f"nvo_{token.prefix}_…")
    assert all(secret not in morsel.value for morsel in client.cookies.values())
    assert all(secret not in str(session.get_decoded()) for session in Session.objects.all())


def test_created_page_offers_a_ready_to_run_curl_example(client_as, cast):
    AgentFactory(handle="ta_00008", division=cast.division)
    # Catalogue data from a migration: a transactional test elsewhere may have flushed it from a reused database.
    key, name, unit, kind, better, description = next(m for m in default_metrics() if m[0] == "latency_p95_ms")
    Metric.objects.get_or_create(
        key=key, defaults={"name": name, "unit": unit, "kind": kind, "better": better, "description": description}
    )
    response = _create(client_as("lead"), cast)
    secret = _secret(response)
    command = html.unescape(
        re.search(r'<pre id="new-token-curl"[^>]*><code>(.*?)</code>', response.content.decode(), re.S)[1]
    )

    words = shlex.split(command)
    assert words[:4] == ["curl", "-X", "POST", "http://testserver/api/v1/metrics/batches"]
    assert words[words.index("-H") + 1] == f"Authorization: Bearer {secret}"
    body = words[words.index("-d") + 1]
    point = json.loads(body)["points"][0]
    assert (point["metric"], point["agent"], point["value"]) == ("latency_p95_ms", "ta_00008", 41.5)

    # It runs: the same request from a client is accepted.
    answer = bearer_client(secret).post("/api/v1/metrics/batches", body, content_type="application/json")
    assert answer.status_code == 202, answer.content


def test_created_token_is_marked_new_in_the_list(client_as, cast):
    response = _create(client_as("lead"), cast)
    token = DivisionToken.objects.get()

    assertContains(response, f'<tr id="token-{token.pk}" class="app-row-new">', status_code=201)
    assertContains(response, "Token created: collector", status_code=201)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({"expires": "30"}, timedelta(days=30), id="30-days"),
        pytest.param({"expires": "90"}, timedelta(days=90), id="90-days"),
        pytest.param({"expires": "365"}, timedelta(days=365), id="365-days"),
        pytest.param({"expires": "never"}, None, id="never"),
    ],
)
def test_expiry_presets(client_as, cast, data, expected):
    before = timezone.now()
    assert _create(client_as("lead"), cast, **data).status_code == 201
    expires_at = DivisionToken.objects.get().expires_at

    if expected is None:
        assert expires_at is None
    else:
        assert before + expected <= expires_at <= timezone.now() + expected


def test_expiry_on_a_date_means_midnight_utc(client_as, cast):
    day = (timezone.now() + timedelta(days=10)).date()
    response = _create(client_as("lead"), cast, expires="date", expires_on=day.isoformat())

    assert response.status_code == 201
    assert DivisionToken.objects.get().expires_at == datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_get_on_the_create_address_goes_to_the_list(client_as, cast):
    assertRedirects(client_as("lead").get(CREATE_URL), LIST_URL, fetch_redirect_response=False)


# --- create: bad input ---------------------------------------------------------------------------------------------


def _yesterday() -> str:
    return (timezone.now() - timedelta(days=1)).date().isoformat()


def _today() -> str:
    return timezone.now().date().isoformat()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        pytest.param({"division": "atlantis"}, "division", "No division with slug 'atlantis'.", id="unknown-division"),
        pytest.param({"division": ""}, "division", "Choose the division the token acts for.", id="no-division"),
        pytest.param({"name": "  "}, "name", "Name the token after what uses it", id="blank-name"),
        pytest.param({"name": "x" * 81}, "name", "at most 80 characters", id="long-name"),
        pytest.param({"expires": "date", "expires_on": _yesterday()}, "expires_on", "must be after today", id="past"),
        pytest.param({"expires": "date", "expires_on": _today()}, "expires_on", "must be after today", id="today"),
        pytest.param({"expires": "date"}, "expires_on", "Give the day the token stops working.", id="no-date"),
        pytest.param(
            {"expires": "date", "expires_on": "27/11/2026"}, "expires_on", "Enter a valid date", id="bad-date"
        ),
        pytest.param({"expires": "30", "expires_on": _today()}, "expires_on", "goes with “On a date…”", id="ambiguous"),
        pytest.param({"expires": "7"}, "expires", "Select a valid choice", id="unknown-preset"),
    ],
)
def test_bad_input_is_a_form_error_with_400(client_as, cast, data, field, message):
    response = _create(client_as("lead"), cast, **data)
    page = response.content.decode()

    assert response.status_code == 400
    assert re.search(rf'id="id_{field}_error">.*?{re.escape(html.escape(message))}', page, re.S), page
    assert re.search(rf'<(?:input|select)[^>]*aria-invalid="true"[^>]*id="id_{field}"', page)
    assert "No token was created" in page
    assert "new-token-secret" not in page
    assert not DivisionToken.objects.exists()


def test_duplicate_name_in_the_division_is_a_form_error(client_as, cast):
    division_token_create(division=cast.division, name="collector")

    response = _create(client_as("lead"), cast)

    assert response.status_code == 400
    assertContains(
        response, "NovaCore Runtime already has a token named “collector”. Pick another name.", status_code=400
    )
    assert DivisionToken.objects.count() == 1
    # The same name in another division is fine.
    assert _create(client_as("lead"), cast, division=cast.other_division.slug).status_code == 201


def test_duplicate_name_caught_by_the_database_constraint_is_a_form_error(client_as, cast, monkeypatch):
    """Two leads submitting the same name at once both pass full_clean(); the unique constraint refuses one."""
    division_token_create(division=cast.division, name="collector")
    monkeypatch.setattr(DivisionToken, "validate_constraints", lambda self, exclude=None: None)

    response = _create(client_as("lead"), cast)

    assertContains(response, "already has a token named “collector”", status_code=400)
    assert DivisionToken.objects.count() == 1


# --- revoke --------------------------------------------------------------------------------------------------------


def test_revoke_confirmation_page_and_revoke(client_as, cast):
    token, secret = division_token_create(division=cast.division, name="collector")
    client = client_as("lead")

    confirm = client.get(_revoke_url(token))
    assertContains(confirm, "Revoke “collector”?")
    assertContains(confirm, f'<form method="post" action="{_revoke_url(token)}"')

    response = client.post(_revoke_url(token), follow=True)
    assertContains(response, "Revoked “collector” (NovaCore Runtime)")
    assertContains(response, 'token-state--revoked">Revoked')
    assert bearer_client(secret).get("/api/v1/metrics/batches/1").status_code == 403


def test_revoking_twice_is_harmless_and_says_so(client_as, cast):
    token, _ = division_token_create(division=cast.division, name="collector")
    client = client_as("lead")
    client.post(_revoke_url(token))
    first = DivisionToken.objects.get().revoked_at

    response = client.post(_revoke_url(token), follow=True)

    assertContains(response, "was already revoked on")
    assert DivisionToken.objects.get().revoked_at == first
    assertContains(client.get(_revoke_url(token)), "already revoked")


def test_revoke_returns_to_the_filtered_list(client_as, cast):
    token, _ = division_token_create(division=cast.division, name="collector")
    response = client_as("lead").post(_revoke_url(token), {"division": "novacore-runtime"})
    assertRedirects(response, f"{LIST_URL}?division=novacore-runtime", fetch_redirect_response=False)


@pytest.mark.parametrize("token_id", ["999999", "9" * 30])
def test_revoking_an_unknown_token_is_404(client_as, cast, token_id):
    url = f"/registry/tokens/{token_id}/revoke/"
    client = client_as("lead")
    assert client.post(url).status_code == 404
    assert client.get(url).status_code == 404


def test_malformed_token_address_is_404(client_as, cast):
    assert client_as("lead").post("/registry/tokens/abc/revoke/").status_code == 404


# --- query budget --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tokens", [1, 40])
def test_list_query_budget(client_as, cast, tokens, django_assert_max_num_queries):
    for n in range(tokens):
        token, _ = division_token_create(division=cast.division if n % 2 else cast.other_division, name=f"t{n}")
        if n % 3 == 0:
            division_token_revoke(token=token)
    client = client_as("lead")

    # session, user, person; the divisions of both forms; the tokens with their divisions and domains; the session's
    # save.
    with django_assert_max_num_queries(5 + SESSION_SAVE_QUERIES):
        response = client.get(LIST_URL)
    assert len(response.context["tokens"]) == tokens
    with django_assert_max_num_queries(5 + SESSION_SAVE_QUERIES):
        client.get(f"{LIST_URL}?division=novacore-runtime")
