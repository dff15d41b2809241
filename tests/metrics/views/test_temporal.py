"""The Temporal pages: leads manage connections and mappings, everyone with a role reads them, secrets never show."""

import pytest
from django.urls import reverse

from metrics.models import TemporalConnection, TemporalMapping
from tests.factories import AgentFactory
from tests.helpers.browser import browser_type_launch_args  # noqa: F401 (the fixture, registered by the import)

SECRET_KEY_PEM = "-----BEGIN PRIVATE KEY-----\nsecret-key-material\n-----END PRIVATE KEY-----"
API_KEY = "tmprl-api-key-do-not-show"


@pytest.fixture
def connection(db):
    return TemporalConnection.objects.create(
        name="prod",
        address="temporal.internal:7233",
        namespace="orders",
        tls_client_cert="-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----",
        tls_client_key=SECRET_KEY_PEM,
        api_key=API_KEY,
        last_error="RuntimeError: Connection refused",
    )


def _form_data(**overrides) -> dict:
    data = {"name": "dev", "address": "127.0.0.1:7233", "namespace": "default", "enabled": "on"}
    return {**data, **overrides}


@pytest.mark.parametrize("name", ["lead", "member", "viewer"])
def test_everyone_with_a_role_reads_the_pages_and_no_secret_is_ever_in_them(client_as, connection, name):
    client = client_as(name)
    for url in (reverse("temporal:list"), reverse("temporal:detail", args=[connection.pk])):
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 200
        assert "prod" in body and ("Failing" in body if url.endswith("temporal/") else "Connection refused" in body)
        assert API_KEY not in body and "secret-key-material" not in body


def test_the_edit_form_shows_no_secret_and_an_empty_secret_keeps_the_stored_one(client_as, connection):
    client = client_as("lead")
    url = reverse("temporal:edit", args=[connection.pk])
    body = client.get(url).content.decode()
    assert API_KEY not in body and "secret-key-material" not in body and "One is stored" in body

    response = client.post(url, _form_data(name="prod", namespace="payments"))

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.namespace == "payments" and connection.api_key == API_KEY
    assert connection.tls_client_key == SECRET_KEY_PEM


def test_clear_secrets_removes_them(client_as, connection):
    client_as("lead").post(reverse("temporal:edit", args=[connection.pk]), _form_data(name="prod", clear_secrets="on"))

    connection.refresh_from_db()
    assert (connection.tls_client_cert, connection.tls_client_key, connection.api_key) == ("", "", "")


def test_a_lead_creates_a_connection_and_bad_fields_are_errors_not_500s(client_as, db):
    client = client_as("lead")
    bad = client.post(reverse("temporal:create"), _form_data(address="no port", tls_client_cert="cert only"))
    assert bad.status_code == 400
    assert "Write host:port" in bad.content.decode() and "needs its private key" in bad.content.decode()

    response = client.post(reverse("temporal:create"), _form_data(api_key=API_KEY))

    created = TemporalConnection.objects.get(name="dev")
    assert response.status_code == 302 and response.url == reverse("temporal:detail", args=[created.pk])
    assert created.api_key == API_KEY and created.last_polled_until is None


@pytest.mark.parametrize("name", ["member", "viewer"])
def test_only_leads_change_connections_and_mappings(client_as, connection, cast, name):
    client = client_as(name)
    mapping = TemporalMapping.objects.create(connection=connection, task_queue="q", division=cast.division)

    assert client.get(reverse("temporal:create")).status_code == 403
    assert client.post(reverse("temporal:edit", args=[connection.pk]), _form_data()).status_code == 403
    add = client.post(reverse("temporal:mapping_add", args=[connection.pk]), {"task_queue": "x", "division": 1})
    assert add.status_code == 403
    remove = reverse("temporal:mapping_remove", args=[connection.pk, mapping.pk])
    assert client.post(remove).status_code == 403
    assert TemporalMapping.objects.count() == 1
    assert "Add mapping" not in client.get(reverse("temporal:detail", args=[connection.pk])).content.decode()


def test_anonymous_users_are_sent_to_sign_in(client, connection):
    response = client.get(reverse("temporal:list"))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_a_lead_maps_and_unmaps_a_task_queue(client_as, connection, cast):
    client = client_as("lead")
    agent = AgentFactory(division=cast.division)
    url = reverse("temporal:mapping_add", args=[connection.pk])

    response = client.post(url, {"task_queue": "orders", "division": cast.division.pk, "agent": agent.pk})

    assert response.status_code == 302
    mapping = TemporalMapping.objects.get()
    assert (mapping.task_queue, mapping.division, mapping.agent) == ("orders", cast.division, agent)
    page = client.get(reverse("temporal:detail", args=[connection.pk])).content.decode()
    assert cast.division.name in page and agent.handle in page

    client.post(reverse("temporal:mapping_remove", args=[connection.pk, mapping.pk]))
    assert not TemporalMapping.objects.exists()


def test_mapping_errors_are_shown_on_the_page(client_as, connection, cast):
    client = client_as("lead")
    url = reverse("temporal:mapping_add", args=[connection.pk])
    other_agent = AgentFactory(division=cast.other_division)
    TemporalMapping.objects.create(connection=connection, task_queue="orders", division=cast.division)

    nothing = client.post(url, {"division": cast.division.pk})
    wrong_agent = client.post(url, {"task_queue": "x", "division": cast.division.pk, "agent": other_agent.pk})
    twice = client.post(url, {"task_queue": "orders", "division": cast.division.pk})

    assert [r.status_code for r in (nothing, wrong_agent, twice)] == [400, 400, 400]
    assert "Name a task queue" in nothing.content.decode()
    assert "is not an agent of" in wrong_agent.content.decode()
    assert "already mapped" in twice.content.decode()
    assert TemporalMapping.objects.count() == 1


def test_the_admin_masks_the_secrets(client_as, connection):
    client = client_as("superuser")
    listing = client.get(reverse("admin:metrics_temporalconnection_changelist")).content.decode()
    change = client.get(reverse("admin:metrics_temporalconnection_change", args=[connection.pk])).content.decode()

    for body in (listing, change):
        assert API_KEY not in body and "secret-key-material" not in body
    assert "TLS certificate, API key stored" in listing

    response = client.post(
        reverse("admin:metrics_temporalconnection_change", args=[connection.pk]),
        {
            **_form_data(name="prod"),
            "mappings-TOTAL_FORMS": "0",
            "mappings-INITIAL_FORMS": "0",
            "mappings-MIN_NUM_FORMS": "0",
            "mappings-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.api_key == API_KEY and connection.namespace == "default"


# --- in a real browser ------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_lead_adds_a_connection_and_a_mapping_in_the_browser(page, live_server, transactional_db, cast):
    from playwright.sync_api import expect

    from tests.helpers.browser import screenshot, sign_in, watch

    seen = watch(page, live_server.url)
    sign_in(page, live_server.url, "lead", "/temporal/")
    expect(page.get_by_text("No Temporal connection yet")).to_be_visible()

    page.get_by_role("link", name="New connection").first.click()
    page.get_by_role("textbox", name="Name", exact=True).fill("dev")
    page.get_by_label("Address").fill("no port")
    page.get_by_label("API key").fill(API_KEY)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Write host:port")).to_be_visible()
    expect(page.get_by_label("API key")).to_have_value("")  # never sent back, even after an error
    seen.expect_refused_page(400)

    page.get_by_label("Address").fill("127.0.0.1:7233")
    page.get_by_label("API key").fill(API_KEY)
    page.get_by_label("Address").press("Enter")  # the keyboard submits the form
    expect(page.get_by_role("heading", level=1)).to_have_text("dev")
    expect(page.get_by_text("API key stored.")).to_be_visible()

    page.get_by_role("textbox", name="Task queue").fill("orders")
    page.get_by_role("combobox", name="Division").select_option(label=cast.division.name)
    page.get_by_role("button", name="Add mapping").click()
    expect(page.get_by_role("cell", name="orders", exact=True)).to_be_visible()
    assert API_KEY not in page.content()
    screenshot(page, "temporal-detail-light", full_page=True)
    page.emulate_media(color_scheme="dark")
    screenshot(page, "temporal-detail-dark", full_page=True)
    seen.assert_clean()
