"""The review session in a real browser (headless Debian Chromium), the issue's scenario: go to this week's sync, walk
the agenda with the keyboard (j/k, ? for the keys), freeze it, add an action item, present it at 1280×720, close the
meeting, and find the action item carried over on the next occurrence. On every page: no console error, no CSP
violation, no request to another host. Screenshots (light, dark, presenter) go to var/test-artifacts/."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from meetings import recurrence
from meetings.models import ActionItem
from meetings.selectors import slot_list
from meetings.services.occurrences import occurrence_open
from meetings.services.session import ActionFields, action_add
from tests.factories import AgentFactory
from tests.helpers.browser import (
    Watch,
    browser_type_launch_args,  # noqa: F401 (the fixture, registered by the import)
    screenshot,
    sign_in,
    watch,
)

pytestmark = pytest.mark.browser


def _this_weeks(series):
    """This week's sync (the latest that started within the last seven days) and the one after it."""
    now = timezone.now()
    slots = slot_list(
        start=now - timedelta(days=7), end=now + timedelta(days=8), series=type(series).objects.filter(pk=series.pk)
    )
    current = [slot for slot in slots if slot.start <= now][-1]
    following = [slot for slot in slots if slot.start > current.start][0]
    return current, following


@pytest.fixture
def sync(transactional_db, crew, weekly_sync, land):
    """Two weeks of hourly throughput and error rate for two runtime agents (one gets worse since the last sync, the
    other better), and an action item left open at last week's sync."""
    current, following = _this_weeks(weekly_sync)
    previous = current.start - timedelta(days=7)
    worse = AgentFactory(handle="ta_00001", callsign="Atlas", division=crew.runtime)
    better = AgentFactory(handle="ta_00002", callsign="Beacon", division=crew.runtime)
    points, moment = [], previous - timedelta(days=7)
    while moment < current.start:
        after = moment >= previous
        points.append(("error_rate_pct", worse.handle, moment, 4.0 if after else 1.0))
        points.append(("throughput_tasks_per_min", better.handle, moment, 180.0 if after else 120.0))
        moment += timedelta(hours=1)
    land(crew.runtime, points)
    last_week = occurrence_open(series=weekly_sync, original_start=previous)
    action_add(
        actor=crew.core, occurrence=last_week, fields=ActionFields("Rotate the runtime keys", crew.runtime_member.pk)
    )
    return weekly_sync, current, following


@pytest.fixture
def watched(page: Page, live_server) -> Watch:
    return watch(page, live_server.url)


def _path(series, slot, name="occurrence") -> str:
    return reverse(f"meetings:{name}", args=[series.pk, recurrence.recurrence_id(slot.original_start)])


def _current(page: Page):
    return page.locator("[data-item].is-current")


def test_a_review_session_from_the_keyboard_to_the_next_agenda(page: Page, live_server, watched, sync):
    series, current, following = sync
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    # From the calendar's week view to this week's sync, by its link.
    week = f"/meetings/?view=week&date={current.start.date().isoformat()}"
    sign_in(page, base, "core", next_path=week)
    page.locator(f"a[data-cal-event][href='{_path(series, current)}']").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Weekly sync")
    items = page.locator("[data-agenda] [data-item]")
    expect(items.first).to_be_visible()
    count = items.count()
    assert count >= 4  # key metrics, a regression, an improvement, the carried action item
    expect(page.locator(".mtg-carried")).to_have_text("carried over 1×")

    # Walk the agenda: j / k and the arrows move the focus from item to item; ? lists the keys.
    page.keyboard.press("j")
    expect(_current(page)).to_have_count(1)
    second = items.nth(1).get_attribute("id")
    expect(_current(page)).to_have_attribute("id", second)
    expect(page.locator(f"#{second}")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(_current(page)).to_have_attribute("id", items.nth(2).get_attribute("id"))
    page.keyboard.press("k")
    expect(_current(page)).to_have_attribute("id", second)
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard")).to_be_hidden()

    # Freeze: the figures are kept as seen.
    page.get_by_role("button", name="Freeze agenda").click()
    expect(page.get_by_text("Figures frozen: as seen at")).to_be_visible()
    expect(page.locator(".mtg-item .mtg-frozen").first).to_contain_text("as seen at")

    # An action item, through the keyboard-usable form.
    page.get_by_text("Add an action item").click()
    page.get_by_label("What").fill("Raise the error budget with workflow")
    page.get_by_label("Owner").select_option(label="runtime-member")
    page.get_by_label("Due").fill((timezone.now() + timedelta(days=7)).date().isoformat())
    page.get_by_role("button", name="Add action item").click()
    expect(page.locator(".mtg-action").filter(has_text="Raise the error budget with workflow")).to_be_visible()

    page.emulate_media(color_scheme="light")
    screenshot(page, "meetings-session-light", full_page=True)
    page.emulate_media(color_scheme="dark")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    screenshot(page, "meetings-session-dark", full_page=True)
    page.emulate_media(color_scheme="light")

    # The presenter view on a 1280×720 shared screen: one item at a time, the keys move it.
    page.set_viewport_size({"width": 1280, "height": 720})
    page.keyboard.press("p")
    expect(page.locator("[data-position]")).to_have_text(f"1 / {count}")
    expect(page.locator("[data-item]:visible")).to_have_count(1)
    page.keyboard.press("j")
    expect(page.locator("[data-position]")).to_have_text(f"2 / {count}")
    expect(page.locator("[data-timer]")).to_contain_text("not started · 30:00")
    screenshot(page, "meetings-present-1280x720")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard")).to_be_hidden()
    page.keyboard.press("Escape")  # back to the meeting page
    expect(page.get_by_role("heading", level=1)).to_have_text("Weekly sync")

    # Close, then the next occurrence carries both open action items.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Close meeting").click()
    expect(page.locator("[data-state]")).to_contain_text("Closed")
    watched.goto(f"{base}{_path(series, following)}")
    carried = page.locator(".mtg-item--action")
    expect(carried.filter(has_text="Raise the error budget with workflow")).to_contain_text("carried over 1×")
    expect(carried.filter(has_text="Rotate the runtime keys")).to_contain_text("carried over 2×")
    assert ActionItem.objects.get(title="Rotate the runtime keys").carried == 2
    watched.assert_clean()
