"""The series form's recurrence helper (the RRULE it writes, and back), its own field errors, and the occurrence
forms (a move read in the series' wall clock, a cancel that needs its confirmation)."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from meetings.forms import CancelForm, MoveForm, ScopedEditForm, SeriesForm, helper_initial, series_initial
from meetings.recurrence import until_before

BASE = {
    "title": "Sync",
    "kind": "weekly_sync",
    "frequency": "WEEKLY",
    "interval": "1",
    "ends": "never",
    "start_date": "2026-01-06",
    "start_time": "09:00",
    "timezone": "America/Denver",
    "duration": "30",
}


def _form(**changes) -> SeriesForm:
    data = {**BASE, **changes}
    return SeriesForm({name: value for name, value in data.items() if value is not None})


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"weekdays": ["TU"]}, "FREQ=WEEKLY;BYDAY=TU"),
        ({}, "FREQ=WEEKLY"),
        (
            {"interval": "2", "weekdays": ["MO", "TH"], "ends": "count", "count": "10"},
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=10",
        ),
        (
            {"frequency": "MONTHLY", "monthly_by": "weekday", "ordinal": "1", "ordinal_day": "TH"},
            "FREQ=MONTHLY;BYDAY=1TH",
        ),
        ({"frequency": "MONTHLY", "monthly_by": "day"}, "FREQ=MONTHLY"),
        (
            {"frequency": "MONTHLY", "ordinal": "1", "ordinal_day": "MO", "months": ["1", "4", "7", "10"]},
            "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=1MO",
        ),
        ({"frequency": "MONTHLY", "ordinal": "-1", "ordinal_day": "FR"}, "FREQ=MONTHLY;BYDAY=-1FR"),
        # 31 December 2026, 23:59:59 MST is 1 January 2027, 06:59:59 UTC.
        ({"frequency": "DAILY", "ends": "until", "until": "2026-12-31"}, "FREQ=DAILY;UNTIL=20270101T065959Z"),
        ({"weekdays": ["TU"], "rrule": " FREQ=YEARLY;BYMONTH=3 "}, "FREQ=YEARLY;BYMONTH=3"),
    ],
)
def test_the_helper_writes_the_rule(changes, rule):
    form = _form(**changes)
    assert form.is_valid(), form.errors
    assert form.series_fields().rrule == rule


def test_series_fields_are_what_the_services_take(db):
    form = _form(weekdays=["TU"], duration="120")
    assert form.is_valid(), form.errors
    fields = form.series_fields()
    assert (fields.start_date, fields.start_time, fields.duration) == (date(2026, 1, 6), time(9), timedelta(hours=2))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"frequency": "MONTHLY", "monthly_by": "weekday", "ordinal": ""}, "ordinal"),
        ({"ends": "count"}, "count"),
        ({"ends": "until"}, "until"),
        ({"ends": "until", "until": "2025-12-31"}, "until"),
        ({"frequency": "HOURLY"}, "frequency"),
        ({"interval": "0"}, "interval"),
        ({"weekdays": ["XX"]}, "weekdays"),
        ({"start_time": "25:00"}, "start_time"),
        ({"duration": "-5"}, "duration"),
        ({"rrule": "x" * 501}, "rrule"),
    ],
)
def test_the_forms_own_field_errors(db, changes, field):
    form = _form(**changes)
    assert not form.is_valid()
    assert field in form.errors


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYDAY=TU",
        "FREQ=MONTHLY;BYDAY=1TH",
        "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=1MO",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=10",
        "FREQ=DAILY;UNTIL=20270101T065959Z",
    ],
)
def test_the_helper_reads_the_rules_it_writes(db, rule):
    initial = helper_initial(rule, zone_name="America/Denver")
    assert initial is not None
    data = {**BASE, **{name: value for name, value in initial.items() if value is not None}}
    data["until"] = initial["until"].isoformat() if "until" in initial else None
    form = SeriesForm({name: value for name, value in data.items() if value is not None})
    assert form.is_valid(), form.errors
    assert form.series_fields().rrule == rule


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MONTHLY;BYSETPOS=1;BYDAY=MO,TU",
        "FREQ=MONTHLY;BYMONTHDAY=15",
        "FREQ=WEEKLY;BYDAY=1TU",
        # A "this and following" split ends a second before an occurrence: that day is not the rule's any more.
        until_before("FREQ=WEEKLY;BYDAY=TU", datetime(2026, 3, 10, 15, tzinfo=UTC)),
    ],
)
def test_rules_the_helper_cannot_say_stay_raw(db, weekly_sync, rule):
    assert helper_initial(rule, zone_name="America/Denver") is None
    weekly_sync.rrule = rule
    assert series_initial(weekly_sync)["rrule"] == rule


def test_a_scoped_edit_takes_its_date_from_the_occurrence():
    data = {**BASE, "scope": "following", "weekdays": ["TU"]}
    del data["start_date"]
    form = ScopedEditForm(data, start_date=date(2026, 3, 10))
    assert "start_date" not in form.fields
    assert form.is_valid(), form.errors
    assert form.series_fields().start_date == date(2026, 3, 10)


def test_a_move_is_read_in_the_series_zone():
    form = MoveForm({"start": "2026-03-10T10:00", "end": "2026-03-10T10:30"}, zone_name="America/Denver")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["start"] == datetime(2026, 3, 10, 16, tzinfo=UTC)  # MDT, UTC-6


@pytest.mark.parametrize(
    "data",
    [
        {"start": "2026-03-10T10:00", "end": "2026-03-10T10:00"},
        {"start": "next week", "end": "2026-03-10T10:30"},
        {"start": "2026-03-10T10:00"},
    ],
)
def test_a_move_with_bad_times_is_refused(data):
    assert not MoveForm(data, zone_name="America/Denver").is_valid()


def test_cancel_needs_its_confirmation():
    assert not CancelForm({}).is_valid()
    assert CancelForm({"confirm": "on"}).is_valid()
