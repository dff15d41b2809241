"""A series' rule in words for the common cases, the raw rule's words for the rest, and the organiser's clock."""

from datetime import UTC, datetime, time, timedelta

import pytest

from meetings.recurrence import local
from meetings.templatetags.calendar import clock, duration_words, rule_in_words


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=WEEKLY;BYDAY=TU", "Every Tuesday"),
        ("FREQ=WEEKLY;BYDAY=MO,WE", "Every Monday and Wednesday"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", "Every 2 weeks on Monday and Thursday"),
        ("FREQ=DAILY", "Every day"),
        ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "Every weekday"),
        ("FREQ=MONTHLY;BYDAY=1TH", "Every month on the first Thursday"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "Every month on the last Friday"),
        ("FREQ=MONTHLY;BYMONTHDAY=15", "Every month on day 15"),
        ("FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=1MO", "On the first Monday of January, April, July and October"),
        ("FREQ=YEARLY;BYMONTH=3", "In March"),
        ("FREQ=MONTHLY;BYSETPOS=1;BYDAY=MO", "Custom rule"),
    ],
)
def test_rule_in_words(rule, words):
    text = rule_in_words(rrule=rule, start_time=time(9), timezone="America/Denver", duration=timedelta(minutes=30))
    assert text == f"{words} at 09:00 America/Denver, 30 min"


def test_the_end_of_a_rule():
    common = {"start_time": time(13), "timezone": "America/Denver", "duration": timedelta(hours=2)}
    assert rule_in_words(rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=6", **common).endswith("2 h, 6 times")
    # 06:59:59 UTC on 1 January is still 31 December in Denver.
    until = rule_in_words(rrule="FREQ=WEEKLY;BYDAY=TU;UNTIL=20270101T065959Z", **common)
    assert until.endswith("until 31 Dec 2026")


@pytest.mark.parametrize(
    ("minutes", "words"), [(30, "30 min"), (60, "1 h"), (90, "1 h 30 min"), (240, "4 h"), (1440, "24 h")]
)
def test_duration_words(minutes, words):
    assert duration_words(timedelta(minutes=minutes)) == words


def test_the_organisers_clock_names_the_zone_in_force():
    assert clock(local(datetime(2026, 3, 3, 16, tzinfo=UTC), "America/Denver")) == "09:00 MST"
    assert clock(local(datetime(2026, 3, 10, 15, tzinfo=UTC), "America/Denver")) == "09:00 MDT"
