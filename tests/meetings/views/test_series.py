"""The series page, its create and edit forms, and an occurrence's edit (move, cancel, this / following / all):
who may, the field errors the services find shown beside the fields (never a 500), and the refusal of an edit on a
cancelled occurrence (409 with the service's message)."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.urls import reverse

from meetings.models import MeetingSeries, Occurrence
from meetings.selectors import slot_list
from meetings.services.occurrences import occurrence_cancel, occurrence_open

NOW = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
# The weekly sync of Tuesday 10 March 2026, 09:00 MDT.
MARCH_10 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
MARCH_10_ID = "20260310T150000Z"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def series_post(crew, **changes) -> dict:
    """A valid create form: the weekly sync's shape, from the helper."""
    data = {
        "title": "Runtime planning",
        "kind": "other",
        "description": "",
        "frequency": "WEEKLY",
        "interval": "1",
        "weekdays": ["TU"],
        "monthly_by": "weekday",
        "ends": "never",
        "start_date": "2026-03-03",
        "start_time": "09:00",
        "timezone": "America/Denver",
        "duration": "30",
        "divisions": [crew.runtime.pk],
        "attendees": [crew.core.pk, crew.runtime_member.pk],
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


# --- the series page ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["core", "meridian", "runtime-member", "workflow-member", "viewer"])
def test_every_role_reads_the_series(page_as, weekly_sync, name):
    response = page_as(name).get(reverse("meetings:series", args=[weekly_sync.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Every Tuesday at 09:00 America/Denver, 30 min" in content
    assert "RRULE:FREQ=WEEKLY;BYDAY=TU" in content
    assert reverse("meetings:series_ics", args=[weekly_sync.pk]) in content
    assert ("Edit series" in content) == (name in ("core", "meridian"))
    upcoming = response.context["upcoming"]
    assert [slot.start for slot in upcoming[:2]] == [MARCH_10, MARCH_10 + timedelta(days=7)]
    assert response.context["past"][0].start == datetime(2026, 3, 3, 16, tzinfo=UTC)


def test_past_occurrences_link_their_minutes(page_as, crew, weekly_sync):
    occurrence = occurrence_open(series=weekly_sync, original_start=datetime(2026, 3, 3, 16, tzinfo=UTC))
    Occurrence.objects.filter(pk=occurrence.pk).update(closed_at=NOW)
    response = page_as("viewer").get(reverse("meetings:series", args=[weekly_sync.pk]))
    assert reverse("meetings:minutes", args=[weekly_sync.pk, "20260303T160000Z"]).encode() in response.content


def test_a_lead_may_edit_every_upcoming_occurrence_also_once_some_are_past(page_as, weekly_sync):
    """The series already has a past occurrence (3 March): the upcoming ones still offer their edit link."""
    response = page_as("core").get(reverse("meetings:series", args=[weekly_sync.pk]))

    assert response.context["past"]
    assert reverse("meetings:occurrence_edit", args=[weekly_sync.pk, MARCH_10_ID]).encode() in response.content
    assert (
        reverse("meetings:occurrence_edit", args=[weekly_sync.pk, "20260303T160000Z"]).encode() not in response.content
    )


def test_an_unknown_series_is_404(page_as, weekly_sync):
    assert page_as("viewer").get(reverse("meetings:series", args=[weekly_sync.pk + 99])).status_code == 404


# --- create -----------------------------------------------------------------------------------------------------------


def test_a_lead_creates_a_series_from_the_helper(page_as, crew):
    response = page_as("meridian").post(reverse("meetings:series_create"), series_post(crew))
    series = MeetingSeries.objects.get(title="Runtime planning")
    assert response.status_code == 302 and response["Location"] == reverse("meetings:series", args=[series.pk])
    assert (series.rrule, series.organiser, series.duration) == (
        "FREQ=WEEKLY;BYDAY=TU",
        crew.meridian,
        timedelta(minutes=30),
    )
    assert set(series.attendees.all()) == {crew.core, crew.runtime_member}


@pytest.mark.parametrize("name", ["runtime-member", "viewer"])
def test_only_leads_create(page_as, crew, name):
    client = page_as(name)
    assert client.get(reverse("meetings:series_create")).status_code == 403
    assert client.post(reverse("meetings:series_create"), series_post(crew)).status_code == 403
    assert not MeetingSeries.objects.exists()


def test_the_create_form_renders_for_a_lead(page_as):
    response = page_as("core").get(reverse("meetings:series_create"))
    assert response.status_code == 200
    assert b'<datalist id="zone-list">' in response.content


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"rrule": "FREQ=SECONDLY"}, "rrule", "FREQ must be one of"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "rrule", "Not a valid recurrence rule"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone"),
        ({"duration": "1441"}, "duration", "at most a day"),
        ({"ends": "until", "until": "2026-02-01"}, "until", "before the first"),
        ({"ends": "count", "count": ""}, "count", "How many"),
        ({"title": ""}, "title", "required"),
        ({"start_date": "2026-02-30"}, "start_date", "valid date"),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rrule", "no occurrence"),
    ],
)
def test_bad_input_is_a_field_error(page_as, crew, changes, field, words):
    response = page_as("core").post(reverse("meetings:series_create"), series_post(crew, **changes))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(words in message for message in errors[field]), errors
    assert f'id="id_{field}_error"'.encode() in response.content
    assert not MeetingSeries.objects.exists()


# --- edit ---------------------------------------------------------------------------------------------------------


def test_the_edit_form_starts_from_the_series(page_as, weekly_sync):
    response = page_as("core").get(reverse("meetings:series_edit", args=[weekly_sync.pk]))
    form = response.context["form"]
    assert (form.initial["frequency"], form.initial["weekdays"], form.initial["duration"]) == ("WEEKLY", ["TU"], 30)
    assert "rrule" not in form.initial


def test_a_lead_edits_all(page_as, crew, weekly_sync):
    data = series_post(crew, title="Weekly sync", start_date="2026-01-06", weekdays=["WE"], start_time="10:00")
    response = page_as("meridian").post(reverse("meetings:series_edit", args=[weekly_sync.pk]), data)
    assert response.status_code == 302
    weekly_sync.refresh_from_db()
    assert (weekly_sync.rrule, weekly_sync.start_time, weekly_sync.sequence) == ("FREQ=WEEKLY;BYDAY=WE", time(10), 1)


@pytest.mark.parametrize("name", ["runtime-member", "viewer"])
def test_others_may_not_edit(page_as, crew, weekly_sync, name):
    client = page_as(name)
    assert client.get(reverse("meetings:series_edit", args=[weekly_sync.pk])).status_code == 403
    edit = reverse("meetings:occurrence_edit", args=[weekly_sync.pk, MARCH_10_ID])
    assert client.get(edit).status_code == 403
    assert client.post(edit, {"action": "cancel", "confirm": "on"}).status_code == 403
    assert not Occurrence.objects.exists()


# --- one occurrence ---------------------------------------------------------------------------------------------------


def _edit_url(series, recurrence_id=MARCH_10_ID):
    return reverse("meetings:occurrence_edit", args=[series.pk, recurrence_id])


def test_occurrence_edit_page(page_as, weekly_sync):
    response = page_as("core").get(_edit_url(weekly_sync))
    assert response.status_code == 200
    # In the series' wall clock, whatever the server's zone.
    assert b'name="start" value="2026-03-10T09:00"' in response.content
    assert b'name="end" value="2026-03-10T09:30"' in response.content
    assert b"Tue 10 Mar 2026 at 09:00 MDT" in response.content


@pytest.mark.parametrize("recurrence_id", ["20260311T150000Z", "yesterday", "20261399T000000Z"])
def test_an_occurrence_the_rule_has_not_is_404(page_as, weekly_sync, recurrence_id):
    assert page_as("core").get(_edit_url(weekly_sync, recurrence_id)).status_code == 404


def test_move_in_the_series_zone(page_as, weekly_sync):
    data = {"action": "move", "start": "2026-03-11T14:00", "end": "2026-03-11T15:00"}
    response = page_as("core").post(_edit_url(weekly_sync), data)
    assert response.status_code == 302
    occurrence = Occurrence.objects.get(series=weekly_sync, original_start=MARCH_10)
    assert (occurrence.start, occurrence.end, occurrence.status) == (
        datetime(2026, 3, 11, 20, tzinfo=UTC),
        datetime(2026, 3, 11, 21, tzinfo=UTC),
        Occurrence.Status.MOVED,
    )


def test_move_with_the_end_first_is_a_field_error(page_as, weekly_sync):
    data = {"action": "move", "start": "2026-03-11T14:00", "end": "2026-03-11T13:00"}
    response = page_as("core").post(_edit_url(weekly_sync), data)
    assert response.status_code == 400
    assert "not after the start" in response.context["forms"]["move"].errors["end"][0]


def test_cancel_needs_the_confirmation(page_as, weekly_sync):
    client = page_as("core")
    assert client.post(_edit_url(weekly_sync), {"action": "cancel"}).status_code == 400
    assert not Occurrence.objects.exists()
    assert client.post(_edit_url(weekly_sync), {"action": "cancel", "confirm": "on"}).status_code == 302
    assert Occurrence.objects.get(original_start=MARCH_10).status == Occurrence.Status.CANCELLED


def test_an_edit_of_a_cancelled_occurrence_is_refused_with_the_reason(page_as, crew, weekly_sync):
    occurrence_cancel(actor=crew.core, occurrence=occurrence_open(series=weekly_sync, original_start=MARCH_10))
    data = {"action": "move", "start": "2026-03-11T14:00", "end": "2026-03-11T15:00"}
    response = page_as("core").post(_edit_url(weekly_sync), data)
    assert response.status_code == 409
    assert b"This occurrence is cancelled; it cannot be changed." in response.content
    edit = _scoped(crew, "this", start_time="10:00")
    assert page_as("core").post(_edit_url(weekly_sync), edit).status_code == 409


def _scoped(crew, scope, **changes):
    data = series_post(
        crew, **{"action": "edit", "scope": scope, "title": "Weekly sync", "kind": "weekly_sync", **changes}
    )
    data.pop("start_date")
    # The weekly sync's people: a scoped edit that changes only the time leaves them as they are.
    data.update(domains=[crew.novaops.pk, crew.orchops.pk], divisions=[crew.runtime.pk, crew.workflow.pk])
    data["attendees"] = [crew.core.pk, crew.meridian.pk, crew.runtime_member.pk, crew.workflow_member.pk]
    return data


def test_edit_this_occurrence_moves_it(page_as, crew, weekly_sync):
    response = page_as("core").post(_edit_url(weekly_sync), _scoped(crew, "this", start_time="10:30", duration="45"))
    assert response.status_code == 302
    occurrence = Occurrence.objects.get(original_start=MARCH_10)
    assert (occurrence.start, occurrence.end - occurrence.start) == (
        MARCH_10 + timedelta(minutes=90),
        timedelta(minutes=45),
    )
    weekly_sync.refresh_from_db()
    assert weekly_sync.start_time == time(9)


def test_edit_this_occurrence_refuses_series_changes(page_as, crew, weekly_sync):
    response = page_as("core").post(_edit_url(weekly_sync), _scoped(crew, "this", title="Renamed"))
    assert response.status_code == 400
    assert "title" in response.context["forms"]["edit"].errors["scope"][0]
    data = _scoped(crew, "this")
    data["attendees"] = [crew.core.pk]
    response = page_as("core").post(_edit_url(weekly_sync), data)
    assert "attendees" in response.context["forms"]["edit"].errors["scope"][0]
    assert not Occurrence.objects.filter(status=Occurrence.Status.MOVED).exists()


def test_edit_this_and_following_splits_from_its_local_date(page_as, crew, weekly_sync):
    response = page_as("core").post(_edit_url(weekly_sync), _scoped(crew, "following", start_time="10:00"))
    new = MeetingSeries.objects.get(split_from=weekly_sync)
    assert response.status_code == 302 and response["Location"] == reverse("meetings:series", args=[new.pk])
    assert (new.start_date, new.start_time) == (date(2026, 3, 10), time(10))
    starts = [slot.start for slot in slot_list(start=NOW, end=NOW + timedelta(days=14))]
    assert starts == [MARCH_10 + timedelta(hours=1), MARCH_10 + timedelta(days=7, hours=1)]


def test_edit_all_keeps_the_first_date(page_as, crew, weekly_sync):
    response = page_as("core").post(_edit_url(weekly_sync), _scoped(crew, "all", start_time="08:00"))
    assert response.status_code == 302
    weekly_sync.refresh_from_db()
    assert (weekly_sync.start_date, weekly_sync.start_time) == (date(2026, 1, 6), time(8))


def test_edit_with_a_bad_rule_is_a_field_error(page_as, crew, weekly_sync):
    response = page_as("core").post(_edit_url(weekly_sync), _scoped(crew, "all", rrule="FREQ=HOURLY"))
    assert response.status_code == 400
    assert "FREQ must be one of" in response.context["forms"]["edit"].errors["rrule"][0]


def test_an_unknown_action_is_400(page_as, weekly_sync):
    assert page_as("core").post(_edit_url(weekly_sync), {"action": "explode"}).status_code == 400
