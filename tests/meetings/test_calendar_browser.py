"""The calendar in headless Chromium: switch month / week / agenda, go next, previous and today by buttons and keys,
open an occurrence, and create a series as a lead through the form; no console error, no CSP violation, nothing
from another host. Screenshots in light and dark (var/test-artifacts/meetings-*.png)."""

import re

import pytest
from playwright.sync_api import Page, expect

from meetings.models import MeetingSeries
from tests.helpers.browser import Watch, browser_type_launch_args, screenshot, sign_in, watch  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def watched(transactional_db, page: Page, live_server, weekly_sync) -> Watch:
    page.set_viewport_size({"width": 1280, "height": 720})
    seen = watch(page, live_server.url)
    sign_in(page, live_server.url, username="core", next_path="/meetings/")
    return seen


def test_views_and_moves(watched, live_server):
    page = watched.page
    expect(page.get_by_role("link", name="Meetings", exact=True)).to_have_attribute("aria-current", "page")
    title = page.locator("#cal-title")
    month = title.inner_text()
    screenshot(page, "meetings-calendar-month-light")

    page.get_by_role("link", name="Next month").click()
    expect(title).not_to_have_text(month)
    page.get_by_role("link", name="Previous month").click()
    expect(title).to_have_text(month)

    page.get_by_role("link", name="Week", exact=True).click()
    expect(page).to_have_url(re.compile(r"view=week"))
    expect(page.locator(".mtg-week__day")).to_have_count(7)
    week = title.inner_text()
    page.wait_for_load_state("load")  # the keys' script is deferred: it listens once the document is parsed
    page.keyboard.press("ArrowRight")
    expect(title).not_to_have_text(week)
    page.wait_for_load_state("load")
    page.keyboard.press("t")
    expect(title).to_have_text(week)
    expect(page.locator(".mtg-week .mtg-event").first).to_be_visible()
    screenshot(page, "meetings-calendar-week-light")

    page.wait_for_load_state("load")
    page.keyboard.press("a")
    expect(page).to_have_url(re.compile(r"view=agenda"))
    expect(page.locator(".mtg-agenda__day").first).to_be_visible()

    page.emulate_media(color_scheme="dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    screenshot(page, "meetings-calendar-agenda-dark")
    watched.goto(f"{live_server.url}/meetings/?view=month")
    screenshot(page, "meetings-calendar-month-dark")

    # An occurrence's link: keyboard-reachable, and it goes to that occurrence's page.
    link = page.locator(".mtg-event").first
    link.focus()
    href = link.get_attribute("href")
    assert re.fullmatch(r"/meetings/series/\d+/\d{8}T\d{6}Z/", href)
    with page.expect_response(f"{live_server.url}{href}") as answer:
        page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}{href}")
    if answer.value.status == 404:
        watched.expect_refused_page(404)  # the occurrence page is another change's; here it is still a placeholder
    watched.assert_clean()


def test_a_lead_creates_a_series(watched, live_server):
    page = watched.page
    page.get_by_role("link", name="New series").click()
    page.get_by_label("Title").fill("Runtime capacity check")
    page.get_by_label("Repeats").select_option("MONTHLY")
    page.get_by_label("Which").select_option("1")
    page.get_by_label("Weekday", exact=True).select_option("WE")
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_label("Duration (minutes)").fill("45")
    screenshot(page, "meetings-series-form-light", full_page=True)
    page.get_by_role("button", name="Create series").click()
    expect(page.locator("#id_timezone_error")).to_contain_text("Unknown time zone")
    watched.expect_refused_page(400)

    page.get_by_label("Time zone").fill("America/Denver")
    page.get_by_role("button", name="Create series").click()
    expect(page.get_by_role("heading", name="Runtime capacity check")).to_be_visible()
    expect(page.locator(".app-lead")).to_contain_text(
        "Every month on the first Wednesday at 09:00 America/Denver, 45 min"
    )
    assert MeetingSeries.objects.get(title="Runtime capacity check").rrule == "FREQ=MONTHLY;BYDAY=1WE"
    screenshot(page, "meetings-series-light")
    page.emulate_media(color_scheme="dark")
    page.reload()
    screenshot(page, "meetings-series-dark")

    # Its first occurrence's edit: cancelling needs the box ticked (a 400 with the reason), then it is struck through.
    page.get_by_role("link", name=re.compile("^Move, cancel or edit")).first.click()
    expect(page.get_by_role("heading", name="Move this occurrence")).to_be_visible()
    screenshot(page, "meetings-occurrence-edit-dark", full_page=True)
    page.get_by_role("button", name="Cancel occurrence").click()
    expect(page.locator("#id_confirm_error")).to_be_visible()
    watched.expect_refused_page(400)
    page.get_by_label("Yes, cancel this occurrence").check()
    page.get_by_role("button", name="Cancel occurrence").click()
    expect(page.locator(".app-messages")).to_contain_text("Occurrence cancelled.")
    expect(page.locator(".mtg-slots s").first).to_be_visible()
    watched.assert_clean()
