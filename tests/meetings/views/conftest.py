"""Page clients and the charter's three series for the meetings pages."""

from datetime import date, time, timedelta

import pytest

from meetings.models import MeetingSeries
from meetings.services.series import SeriesFields, series_create


@pytest.fixture
def page_as(client, crew):
    """page_as("core") → the test client signed in as that person of the crew (anonymous for "anonymous")."""

    def make(name: str):
        client.logout()
        if name != "anonymous":
            client.force_login(getattr(crew, name.replace("-", "_")))
        return client

    return make


@pytest.fixture
def charter(crew, weekly_sync):
    """The charter's cadence in America/Denver: the weekly sync (Tuesdays 09:00, 30 min), the monthly deep dive (first
    Thursday 13:00, 2 h) and the quarterly review (first Monday of January, April, July and October 09:00, 4 h)."""

    def make(title, kind, rrule, start_date, start_time, duration):
        fields = SeriesFields(
            title=title,
            kind=kind,
            rrule=rrule,
            start_date=start_date,
            start_time=start_time,
            timezone="America/Denver",
            duration=duration,
            domains=[crew.novaops, crew.orchops],
            divisions=[crew.runtime, crew.workflow],
            attendees=[crew.core, crew.meridian],
        )
        return series_create(actor=crew.core, fields=fields)

    deep_dive = make(
        "Monthly deep dive",
        MeetingSeries.Kind.MONTHLY_DEEP_DIVE,
        "FREQ=MONTHLY;BYDAY=1TH",
        date(2026, 1, 1),
        time(13, 0),
        timedelta(hours=2),
    )
    review = make(
        "Quarterly review",
        MeetingSeries.Kind.QUARTERLY_REVIEW,
        "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=1MO",
        date(2026, 1, 5),
        time(9, 0),
        timedelta(hours=4),
    )
    return weekly_sync, deep_dive, review
