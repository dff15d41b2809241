"""The catalogue pages: everyone with a role reads the list (discovered metrics awaiting review first, a search, the
review queue, a division), Tier 1 leads name and describe a metric, and saving marks a discovered one reviewed."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from metrics.models import Metric
from tests.helpers import SESSION_SAVE_QUERIES
from tests.helpers.browser import browser_type_launch_args  # noqa: F401 (the fixture, registered by the import)

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
LIST = reverse("catalogue:list")


@pytest.fixture
def discovered(cast, land):
    """Two metrics an OTLP client sent before anyone described them, both reported by the cast's division, and one
    catalogue metric reported by two agents-less series of both divisions."""
    found = [
        Metric.objects.create(
            key=key, name=key, unit=unit, kind=Metric.Kind.COUNTER, discovered_from="otlp", needs_review=True
        )
        for key, unit in (("http_server_requests", "1"), ("gc_pause_seconds", "s"))
    ]
    at = NOW - timedelta(minutes=10)
    land(cast.division, [(metric.key, None, at, 1.0) for metric in found] + [("queue_backlog", None, at, 3.0)])
    land(cast.other_division, [("queue_backlog", None, at, 4.0)])
    return found


def _edit_url(key: str) -> str:
    return reverse("catalogue:edit", args=[key])


def _keys(response) -> list[str]:
    return [metric.key for metric in response.context["page"].object_list]


def _edit_data(**overrides) -> dict:
    data = {"name": "HTTP requests served", "unit": "requests", "kind": "counter", "better": "neutral"}
    return {**data, "description": "Requests the agent's HTTP server answered.", **overrides}


@pytest.mark.parametrize("name", ["lead", "member", "viewer", "superuser"])
def test_everyone_with_a_role_reads_the_catalogue_discovered_metrics_first(client_as, discovered, name):
    response = client_as(name).get(LIST)

    assert response.status_code == 200
    keys = _keys(response)
    assert keys[:2] == ["gc_pause_seconds", "http_server_requests"]
    assert keys[2:] == sorted(Metric.objects.filter(needs_review=False).values_list("key", flat=True))
    counts = {metric.key: metric.series_count for metric in response.context["page"].object_list}
    assert counts["queue_backlog"] == 2 and counts["http_server_requests"] == 1 and counts["uptime_pct"] == 0
    body = response.content.decode()
    assert "2 metrics need review" in body and "Needs review" in body and "otlp" in body


def test_only_leads_see_the_edit_links(client_as, discovered):
    assert _edit_url("http_server_requests") in client_as("lead").get(LIST).content.decode()
    for name in ("member", "viewer"):
        body = client_as(name).get(LIST).content.decode()
        assert _edit_url("http_server_requests") not in body and "/edit/" not in body


def test_the_review_filter_lists_the_discovered_metrics_only(client_as, discovered):
    response = client_as("viewer").get(LIST, {"review": "1"})

    assert response.status_code == 200
    assert _keys(response) == ["gc_pause_seconds", "http_server_requests"]
    assert 'name="review" value="1" id="id_review" checked' in response.content.decode()


def test_search_matches_key_name_and_description(client_as, discovered):
    Metric.objects.filter(key="uptime_pct").update(description="Share of the minute the agent answered pings.")
    client = client_as("viewer")

    assert _keys(client.get(LIST, {"q": "GC_PAUSE"})) == ["gc_pause_seconds"]
    assert _keys(client.get(LIST, {"q": "answered pings"})) == ["uptime_pct"]
    empty = client.get(LIST, {"q": "nothing-like-this"})
    assert empty.status_code == 200 and _keys(empty) == []
    assert "No metrics match these filters." in empty.content.decode()


def test_the_division_filter_keeps_the_metrics_it_reports(client_as, cast, discovered):
    client = client_as("viewer")

    assert _keys(client.get(LIST, {"division": cast.other_division.slug})) == ["queue_backlog"]
    both = client.get(LIST, {"division": cast.division.slug, "review": "1"})
    assert _keys(both) == ["gc_pause_seconds", "http_server_requests"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"division": "no-such-division"}, "division", "Select a valid choice"),
        ({"q": "x" * 101}, "q", "at most 100 characters"),
        ({"q": "gc\x00"}, "q", "Null characters are not allowed"),
        ({"division": "bad\x00"}, "division", "Null characters are not allowed"),
        ({"review": "0"}, "review", "Select a valid choice"),
    ],
)
def test_a_filter_that_names_nothing_is_a_400_with_the_error_and_no_list(client_as, discovered, query, field, message):
    response = client_as("viewer").get(LIST, query)

    assert response.status_code == 400
    assert response.context["page"] is None
    assert message in str(response.context["form"].errors[field])
    assert "Check the filters" in response.content.decode()


def test_a_page_past_the_end_is_404(client_as, discovered):
    assert client_as("viewer").get(LIST, {"page": "9"}).status_code == 404


def test_anonymous_users_are_sent_to_sign_in_and_no_role_is_refused(client_as, discovered):
    response = client_as("anonymous").get(LIST)
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert client_as("anonymous").get(_edit_url("gc_pause_seconds")).status_code == 302
    assert client_as("no_role").get(LIST).status_code == 403


def test_the_list_reads_in_a_fixed_number_of_queries(client_as, discovered, django_assert_max_num_queries):
    client = client_as("lead")
    with django_assert_max_num_queries(7 + SESSION_SAVE_QUERIES):
        assert client.get(LIST, {"q": "_", "review": "1"}).status_code == 200


@pytest.mark.parametrize("name", ["lead", "superuser"])
def test_a_lead_names_a_discovered_metric_and_saving_marks_it_reviewed(client_as, discovered, name):
    client = client_as(name)
    page = client.get(_edit_url("http_server_requests"))
    assert page.status_code == 200 and "Save and mark reviewed" in page.content.decode()

    response = client.post(_edit_url("http_server_requests"), _edit_data(better="higher"))

    assert response.status_code == 302 and response.url == f"{LIST}?review=1"
    metric = Metric.objects.get(key="http_server_requests")
    assert (metric.name, metric.unit, metric.better) == ("HTTP requests served", "requests", "higher")
    assert metric.description == "Requests the agent's HTTP server answered."
    assert metric.needs_review is False and metric.discovered_from == "otlp"  # where it came from stays known
    assert _keys(client.get(LIST, {"review": "1"})) == ["gc_pause_seconds"]


def test_editing_a_reviewed_metric_returns_to_the_whole_catalogue(client_as, discovered):
    response = client_as("lead").post(_edit_url("queue_backlog"), _edit_data(name="Queue backlog", unit="tasks"))

    assert response.status_code == 302 and response.url == LIST
    assert Metric.objects.get(key="queue_backlog").unit == "tasks"


@pytest.mark.parametrize("name", ["member", "other_member", "viewer"])
def test_only_leads_edit_the_catalogue(client_as, discovered, name):
    client = client_as(name)

    assert client.get(_edit_url("http_server_requests")).status_code == 403
    response = client.post(_edit_url("http_server_requests"), _edit_data())

    assert response.status_code == 403
    assert "Only Tier 1 leads can change the metric catalogue." in response.content.decode()
    metric = Metric.objects.get(key="http_server_requests")
    assert metric.needs_review is True and metric.name == "http_server_requests"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "n" * 121}, "name"),
        ({"kind": "histogram"}, "kind"),
        ({"better": "sideways"}, "better"),
        ({"unit": "u" * 31}, "unit"),
    ],
)
def test_bad_fields_are_a_400_beside_the_field_and_the_metric_stays_under_review(
    client_as, discovered, overrides, field
):
    response = client_as("lead").post(_edit_url("http_server_requests"), _edit_data(**overrides))

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'class="invalid-feedback d-block"' in response.content.decode()
    metric = Metric.objects.get(key="http_server_requests")
    assert metric.needs_review is True and metric.name == "http_server_requests"


def test_an_empty_post_is_a_400_not_a_blank_form(client_as, discovered):
    response = client_as("lead").post(_edit_url("http_server_requests"), {})

    assert response.status_code == 400 and "name" in response.context["form"].errors
    assert Metric.objects.get(key="http_server_requests").needs_review is True


@pytest.mark.parametrize("key", ["no_such_metric", "Bad-Key", "nul\x00"])
def test_an_unknown_key_is_404(client_as, discovered, key):
    assert client_as("lead").get(_edit_url(key)).status_code == 404


def test_the_nav_links_to_the_catalogue(client_as, discovered):
    body = client_as("viewer").get(LIST).content.decode()
    assert f'<a href="{LIST}" aria-current="page">Catalogue</a>' in body


# --- in a real browser ------------------------------------------------------------------------------------------


def _tab_to(page, target, *, limit: int = 60) -> None:
    """Press Tab until `target` has the focus (the keyboard alone reaches it), and check its focus ring shows."""
    from playwright.sync_api import expect

    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(target).to_be_focused()
    ring = target.evaluate("e => { const s = getComputedStyle(e); return [s.outlineStyle, s.boxShadow]; }")
    assert ring[0] != "none" or ring[1] != "none", ring


@pytest.mark.browser
def test_a_lead_reviews_a_discovered_metric_with_the_keyboard(
    page, live_server, transactional_db, cast, discovered, settings
):
    from playwright.sync_api import expect

    from tests.helpers.browser import screenshot, sign_in, watch

    seen = watch(page, live_server.url)
    page.set_viewport_size({"width": 1280, "height": 720})
    sign_in(page, live_server.url, "lead", "/catalogue/")
    expect(page.get_by_role("rowheader", name="Needs review")).to_be_visible()
    screenshot(page, "catalogue-list-light", full_page=True)

    _tab_to(page, page.get_by_role("searchbox", name="Search"))
    page.keyboard.type("http")
    page.keyboard.press("Enter")  # a plain GET form: the filters are in the URL
    expect(page).to_have_url(re.compile(r"/catalogue/\?q=http"))
    expect(page.get_by_text("Showing 1–1 of 1 metric matching the filters")).to_be_visible()

    review = page.get_by_role("link", name="Review http_server_requests")
    _tab_to(page, review)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit http_server_requests")
    screenshot(page, "catalogue-edit-light")

    name = page.get_by_role("textbox", name="Name")
    _tab_to(page, name)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.press("Backspace")
    page.keyboard.press("Enter")
    expect(page.get_by_text("This field is required.")).to_be_visible()
    seen.expect_refused_page(400)
    expect(name).to_have_attribute("aria-invalid", "true")
    screenshot(page, "catalogue-edit-refused-light")

    _tab_to(page, name)
    page.keyboard.type("HTTP requests served")
    _tab_to(page, page.get_by_role("combobox", name="Which direction is good"))
    page.keyboard.press("ArrowUp")  # Neither → Lower → … a select moves with the arrows
    _tab_to(page, page.get_by_role("button", name="Save and mark reviewed"))
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/catalogue/\?review=1$"))
    expect(page.get_by_text("Saved http_server_requests and marked it reviewed.")).to_be_visible()
    expect(page.get_by_role("link", name="Review gc_pause_seconds")).to_be_visible()
    assert Metric.objects.get(key="http_server_requests").needs_review is False
    page.emulate_media(color_scheme="dark")
    screenshot(page, "catalogue-review-dark", full_page=True)

    settings.METRICS_DIVISION_MAX_METRICS = 3  # the division reports 3: at its cap
    seen.goto(f"{live_server.url}/dashboards/divisions/{cast.division.slug}/")
    expect(page.get_by_role("heading", name="Ingest caps")).to_be_visible()
    expect(page.get_by_text("At the cap")).to_be_visible()
    screenshot(page, "division-caps-dark")
    page.emulate_media(color_scheme="light")
    screenshot(page, "division-caps-light")
    seen.assert_clean()
