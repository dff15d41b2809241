"""dashboards.views.saved: every role lists and opens saved views; only leads save, rename and delete them."""

import pytest

from dashboards.models import SavedView
from dashboards.services.saved_views import saved_view_create
from tests.helpers import SESSION_SAVE_QUERIES


@pytest.fixture
def saved(cast):
    return saved_view_create(user=cast.lead, name="Errors by division", page="explore", query="metric=error_rate_pct")


@pytest.mark.parametrize("role", ["lead", "member", "viewer"])
def test_every_role_lists_and_opens_saved_views(client_as, saved, role):
    client = client_as(role)
    listing = client.get("/dashboards/views/")
    assert listing.status_code == 200 and b'href="/dashboards/explore/?metric=error_rate_pct"' in listing.content
    assert (b"Rename" in listing.content) == (role == "lead")

    opened = client.get(f"/dashboards/views/{saved.pk}/")
    assert opened.status_code == 302 and opened["Location"] == "/dashboards/explore/?metric=error_rate_pct"


def test_anonymous_is_sent_to_sign_in(client, saved):
    for response in (client.get("/dashboards/views/"), client.post("/dashboards/views/new/", {"name": "x"})):
        assert response.status_code == 302 and "login" in response["Location"]


def test_a_lead_saves_the_current_view_and_returns_to_it(client_as):
    response = client_as("lead").post(
        "/dashboards/views/new/", {"name": "Latency", "page": "compare", "query": "range=7d&group=division"}
    )
    assert response.status_code == 302 and response["Location"] == "/dashboards/compare/?range=7d&group=division"
    assert SavedView.objects.get().name == "Latency"


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_others_are_refused_with_a_clear_403(client_as, saved, role):
    client = client_as(role)
    created = client.post("/dashboards/views/new/", {"name": "Mine", "page": "explore", "query": ""})
    renamed = client.post(f"/dashboards/views/{saved.pk}/rename/", {"name": "Taken"})
    confirm = client.get(f"/dashboards/views/{saved.pk}/delete/")
    deleted = client.post(f"/dashboards/views/{saved.pk}/delete/")
    for response in (created, renamed, confirm, deleted):
        assert response.status_code == 403 and b"managed by the Tier 1 leads" in response.content
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Errors by division"]


def test_a_taken_name_is_a_409_form_error_and_a_blank_one_a_400(client_as, saved):
    client = client_as("lead")
    taken = client.post("/dashboards/views/new/", {"name": "ERRORS BY DIVISION", "page": "explore", "query": ""})
    assert taken.status_code == 409 and "already called" in taken.content.decode()
    blank = client.post("/dashboards/views/new/", {"name": " ", "page": "explore", "query": ""})
    assert blank.status_code == 400
    long = client.post(f"/dashboards/views/{saved.pk}/rename/", {"name": "x" * 81})
    assert long.status_code == 400 and b"at most 80 characters" in long.content


def test_a_bad_query_is_refused_before_saving(client_as):
    response = client_as("lead").post("/dashboards/views/new/", {"name": "Bad", "page": "explore", "query": "range=x"})
    assert response.status_code == 400 and b"range" in response.content and not SavedView.objects.exists()


def test_a_lead_renames_and_deletes_after_confirming(client_as, saved):
    client = client_as("lead")
    renamed = client.post(f"/dashboards/views/{saved.pk}/rename/", {"name": "Error rates"})
    assert renamed.status_code == 302 and SavedView.objects.get().name == "Error rates"

    confirm = client.get(f"/dashboards/views/{saved.pk}/delete/")
    assert confirm.status_code == 200 and b"Delete \xe2\x80\x9cError rates\xe2\x80\x9d?" in confirm.content
    assert SavedView.objects.exists()
    deleted = client.post(f"/dashboards/views/{saved.pk}/delete/")
    assert deleted.status_code == 302 and not SavedView.objects.exists()
    assert client.get(f"/dashboards/views/{saved.pk}/").status_code == 404


def test_writes_need_post_and_csrf(client_as, saved, cast):
    from django.test import Client

    assert client_as("lead").get("/dashboards/views/new/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(cast.lead)
    assert strict.post(f"/dashboards/views/{saved.pk}/delete/").status_code == 403
    assert SavedView.objects.exists()


@pytest.mark.parametrize("count", [1, 30])
def test_list_query_budget(cast, client_as, django_assert_max_num_queries, count):
    for n in range(count):
        saved_view_create(user=cast.lead, name=f"View {n}", page="explore", query="")
    client = client_as("lead")
    with django_assert_max_num_queries(5 + SESSION_SAVE_QUERIES):
        assert client.get("/dashboards/views/").status_code == 200
