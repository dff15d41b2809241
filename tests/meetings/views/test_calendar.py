"""The calendar page: month, week and agenda views in the viewer's zone with the organiser's clock beside, exceptions
marked, each occurrence linking to its page; bad parameters answer 400 with the reason; everyone with a role reads."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from meetings.models import Occurrence
from meetings.services.occurrences import occurrence_cancel, occurrence_move, occurrence_open
from meetings.views.calendar import window_of
from tests.helpers import SESSION_SAVE_QUERIES

# Thursday 5 March 2026, before the US change to daylight saving time (Sunday 8 March).
NOW = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
DENVER = "America%2FDenver"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _get(client, zone: str | None = None, **query):
    if zone:
        client.cookies["novaops_tz"] = zone
    return client.get(reverse("meetings:calendar"), query)


@pytest.mark.parametrize("name", ["core", "meridian", "runtime-member", "workflow-member", "viewer"])
@pytest.mark.parametrize("view", ["month", "week", "agenda"])
def test_every_role_reads_every_view(page_as, weekly_sync, name, view):
    response = _get(page_as(name), view=view, date="2026-03-03")
    assert response.status_code == 200
    assert b"Weekly sync" in response.content
    assert (b"New series" in response.content) == (name in ("core", "meridian"))
    assert reverse("meetings:feed").encode() in response.content


def test_anonymous_goes_to_sign_in(page_as):
    response = _get(page_as("anonymous"))
    assert response.status_code == 302
    assert "/login" in response["Location"] or "sign" in response["Location"]


def test_month_by_default_is_this_month_and_links_each_occurrence(page_as, weekly_sync):
    response = _get(page_as("viewer"), DENVER)
    assert response.context["window"].view == "month"
    assert response.context["window"].title == "March 2026"
    tuesdays = [date(2026, 3, day) for day in (3, 10, 17, 24, 31)]
    found = [entry.start.date() for day in response.context["days"] for entry in day.entries if day.in_range]
    assert found == tuesdays
    # The grid's days of the months around (greyed) show theirs too.
    assert response.context["days"][0].day == date(2026, 2, 23) and not response.context["days"][0].in_range
    first = reverse("meetings:occurrence", args=[weekly_sync.pk, "20260303T160000Z"])
    assert f'href="{first}"'.encode() in response.content
    today = [day for day in response.context["days"] if day.is_today]
    assert [day.day for day in today] == [date(2026, 3, 5)]


@pytest.mark.parametrize("anchor", ["2026-03-03", "2026-03-10"])
def test_the_dst_weeks_show_nine_in_denver_both_sides(page_as, weekly_sync, anchor):
    response = _get(page_as("viewer"), DENVER, view="week", date=anchor)
    [entry] = [entry for day in response.context["days"] for entry in day.entries]
    assert entry.start.strftime("%H:%M") == "09:00"
    assert entry.organiser_clock is None  # same zone: no second clock
    assert b"09:00" in response.content


def test_a_viewer_elsewhere_sees_their_clock_and_the_organisers(page_as, weekly_sync):
    client = page_as("viewer")
    before = _get(client, "UTC", view="week", date="2026-03-03")
    after = _get(client, "UTC", view="week", date="2026-03-10")
    assert b"16:00" in before.content and b"09:00 MST" in before.content
    assert b"15:00" in after.content and b"09:00 MDT" in after.content


def test_exceptions_are_marked(page_as, crew, weekly_sync):
    for moment, change in (
        (datetime(2026, 3, 3, 16, tzinfo=UTC), "cancel"),
        (datetime(2026, 3, 10, 15, tzinfo=UTC), "move"),
    ):
        occurrence = occurrence_open(series=weekly_sync, original_start=moment)
        if change == "cancel":
            occurrence_cancel(actor=crew.core, occurrence=occurrence)
        else:
            occurrence_move(actor=crew.core, occurrence=occurrence, start=moment + timedelta(days=1))
    response = _get(page_as("viewer"), DENVER, view="agenda", date="2026-03-01")
    statuses = {entry.start.date(): entry.slot.status for day in response.context["agenda"] for entry in day.entries}
    assert statuses[date(2026, 3, 3)] == Occurrence.Status.CANCELLED
    assert statuses[date(2026, 3, 11)] == Occurrence.Status.MOVED
    assert date(2026, 3, 10) not in statuses
    assert b'<s class="mtg-event__title">Weekly sync</s>' in response.content
    assert b"Moved</span>" in response.content


@pytest.mark.parametrize(
    "query",
    [
        {"view": "year"},
        {"date": "2026-13-01"},
        {"date": "tomorrow"},
        {"date": "9999-12-31"},
        {"view": "week", "date": "2026-3-3"},
        {"view": "<script>"},
    ],
)
def test_bad_parameters_answer_400_with_the_reason(page_as, weekly_sync, query):
    response = _get(page_as("viewer"), **query)
    assert response.status_code == 400
    assert b"This calendar cannot be shown." in response.content
    assert b"<script>" not in response.content.split(b"<main")[1]


def test_empty_period_says_so(page_as, weekly_sync):
    response = _get(page_as("viewer"), view="week", date="2025-06-02")
    assert response.status_code == 200
    assert b"No meetings in this period" in response.content


def test_previous_and_next_of_each_view():
    month = window_of("month", date(2026, 3, 17))
    assert (month.first, month.last) == (date(2026, 2, 23), date(2026, 4, 6))
    assert (month.previous, month.next) == (date(2026, 2, 1), date(2026, 4, 1))
    week = window_of("week", date(2026, 3, 12))
    assert (week.first, week.previous, week.next) == (date(2026, 3, 9), date(2026, 3, 2), date(2026, 3, 16))
    agenda = window_of("agenda", date(2026, 3, 12))
    assert (agenda.first, agenda.last, agenda.next) == (date(2026, 3, 12), date(2026, 4, 9), date(2026, 4, 9))


def test_month_view_query_budget(page_as, charter, django_assert_max_num_queries):
    client = page_as("viewer")
    # Session, user, person, zone preference; the series with their three prefetches; the stored occurrences.
    with django_assert_max_num_queries(9 + SESSION_SAVE_QUERIES):
        response = _get(client, DENVER, view="month", date="2026-04-01")
    kinds = {entry.slot.series.title for day in response.context["days"] for entry in day.entries}
    assert kinds == {"Weekly sync", "Monthly deep dive", "Quarterly review"}
