"""The feed pages: the subscription page, the secret feed (no sign-in) and a series' .ics download."""

import re
from datetime import date, time, timedelta

import pytest
from django.urls import reverse
from icalendar import Calendar

from meetings.models import MeetingSeries
from meetings.services.feeds import feed_create_or_rotate
from meetings.services.series import SeriesFields, series_create
from tests.helpers.browser import browser_type_launch_args  # noqa: F401 (the fixture, registered by the import)


@pytest.fixture
def leads_only(crew) -> MeetingSeries:
    """A series only the two leads attend."""
    fields = SeriesFields(
        title="Leads' planning",
        kind="other",
        rrule="FREQ=WEEKLY;BYDAY=FR",
        start_date=date(2026, 1, 9),
        start_time=time(11),
        timezone="Europe/Berlin",
        duration=timedelta(hours=1),
        attendees=[crew.core, crew.meridian],
    )
    return series_create(actor=crew.core, fields=fields)


def uids(response) -> set[str]:
    calendar = Calendar.from_ical(b"".join(response.streaming_content) if response.streaming else response.content)
    return {str(event["UID"]) for event in calendar.walk("VEVENT")}


def test_the_feed_has_the_series_the_person_attends(client, crew, weekly_sync, leads_only):
    _, token = feed_create_or_rotate(user=crew.runtime_member)
    response = client.get(reverse("meetings:feed_ics", args=[token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"].startswith("inline")
    assert "private" in response["Cache-Control"]
    assert uids(response) == {f"{weekly_sync.uid}@novaops"}


def test_a_leads_feed_has_every_series(client, crew, weekly_sync, leads_only):
    _, token = feed_create_or_rotate(user=crew.meridian)
    calendar = Calendar.from_ical(client.get(reverse("meetings:feed_ics", args=[token])).content)
    assert {str(event["UID"]) for event in calendar.walk("VEVENT")} == {
        f"{weekly_sync.uid}@novaops",
        f"{leads_only.uid}@novaops",
    }
    assert {str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")} == {"America/Denver", "Europe/Berlin"}


def test_a_viewer_attending_nothing_gets_an_empty_calendar(client, crew, weekly_sync):
    _, token = feed_create_or_rotate(user=crew.viewer)
    response = client.get(reverse("meetings:feed_ics", args=[token]))
    assert response.status_code == 200
    assert uids(response) == set()


def test_a_wrong_or_rotated_token_is_not_found(client, crew, weekly_sync):
    _, old = feed_create_or_rotate(user=crew.core)
    _, new = feed_create_or_rotate(user=crew.core)
    assert client.get(reverse("meetings:feed_ics", args=[old])).status_code == 404
    assert client.get(reverse("meetings:feed_ics", args=[new[:-2] + "zz"])).status_code == 404
    assert client.get(reverse("meetings:feed_ics", args=["nothing"])).status_code == 404
    assert client.get(reverse("meetings:feed_ics", args=[new])).status_code == 200


def test_a_poll_with_the_etag_gets_304(client, crew, weekly_sync):
    _, token = feed_create_or_rotate(user=crew.core)
    url = reverse("meetings:feed_ics", args=[token])
    etag = client.get(url)["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_the_feed_refuses_writes(client, crew):
    _, token = feed_create_or_rotate(user=crew.core)
    assert client.post(reverse("meetings:feed_ics", args=[token])).status_code == 405


def test_the_page_creates_then_rotates_the_address(client, crew, weekly_sync):
    client.force_login(crew.runtime_member)
    url = reverse("meetings:feed")
    page = client.get(url)
    assert page.status_code == 200
    assert b"You have no calendar feed yet." in page.content
    assert "no-store" in page["Cache-Control"]
    created = client.post(url)
    first = created.context["https_url"]
    assert created.context["webcal_url"] == "webcal://" + first.removeprefix("http://")
    assert client.get(first).status_code == 200
    again = client.get(url)
    assert first.encode() not in again.content  # shown once
    assert b"Replace the address" in again.content
    assert client.get(url, {"confirm": "rotate"}).context["confirm"]
    rotated = client.post(url, {"rotate": "1"})
    assert rotated.context["rotated"]
    assert client.get(first).status_code == 404
    assert client.get(rotated.context["https_url"]).status_code == 200


def test_the_page_needs_a_sign_in(client, crew):
    response = client.get(reverse("meetings:feed"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_series_downloads_as_an_attachment(client, crew, weekly_sync):
    client.force_login(crew.viewer)
    response = client.get(reverse("meetings:series_ics", args=[weekly_sync.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="weekly-sync.ics"'
    assert uids(response) == {f"{weekly_sync.uid}@novaops"}


def test_a_series_download_needs_a_sign_in_and_an_existing_series(client, crew, weekly_sync):
    assert client.get(reverse("meetings:series_ics", args=[weekly_sync.pk])).status_code == 302
    client.force_login(crew.viewer)
    assert client.get(reverse("meetings:series_ics", args=[weekly_sync.pk + 1000])).status_code == 404


@pytest.mark.browser
def test_subscribing_and_rotating_in_a_browser(page, live_server, transactional_db, crew, weekly_sync):
    """Create the address, see both forms of it with their Copy buttons, rotate it through the dialog (Escape
    cancels first), the old one answers 404. No console error, no CSP violation, nothing from another host."""
    from playwright.sync_api import expect

    from tests.helpers.browser import screenshot, sign_in, watch

    watched = watch(page, live_server.url)
    sign_in(page, live_server.url, "runtime-member", "/meetings/feed/")
    expect(page.get_by_text("You have no calendar feed yet.")).to_be_visible()
    page.get_by_role("button", name="Create my feed address").click()
    webcal = page.get_by_label("Subscribe (opens your calendar app)")
    expect(webcal).to_have_value(re.compile(r"^webcal://.+/meetings/feed/\w{8}_[\w-]+\.ics$"))
    expect(page.get_by_role("button", name="Copy webcal address")).to_be_visible()
    first = page.get_by_label("Address for Google Calendar and Outlook on the web").input_value()
    screenshot(page, "meetings-feed-created", full_page=True)

    page.goto(f"{live_server.url}/meetings/feed/")
    page.get_by_role("button", name="Replace the address…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Replace the address…").click()
    page.get_by_role("dialog").get_by_role("button", name="Replace the address").click()
    expect(page.get_by_text("The previous address no longer works.")).to_be_visible()
    second = page.get_by_label("Address for Google Calendar and Outlook on the web").input_value()
    assert second != first
    assert page.request.get(first).status == 404
    assert page.request.get(second).headers["content-type"] == "text/calendar; charset=utf-8"
    watched.assert_clean()
