"""meetings.recurrence: rules expanded in the organiser's wall clock (pure, no database). Daylight saving in both
directions in Denver, the spring-forward gap and the fall-back fold, rules refused with the reason."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from meetings import recurrence
from meetings.recurrence import Pattern, RuleError

DENVER = "America/Denver"


def pattern(rule: str = "FREQ=WEEKLY;BYDAY=TU", start_date=date(2026, 1, 6), start_time=time(9), timezone=DENVER):
    return Pattern(rule, start_date, start_time, timezone, timedelta(minutes=30))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_spring_forward_keeps_nine_oclock_and_moves_the_utc_instant():
    # Daylight saving starts Sunday 8 March 2026: 09:00 MST is 16:00 UTC, 09:00 MDT is 15:00 UTC.
    found = recurrence.starts(pattern(), start=utc(2026, 2, 25), end=utc(2026, 3, 20))
    assert found == [utc(2026, 3, 3, 16), utc(2026, 3, 10, 15), utc(2026, 3, 17, 15)]
    assert {recurrence.local(moment, DENVER).time() for moment in found} == {time(9)}


def test_fall_back_keeps_nine_oclock_and_moves_the_utc_instant():
    # Daylight saving ends Sunday 1 November 2026.
    found = recurrence.starts(pattern(), start=utc(2026, 10, 20), end=utc(2026, 11, 11))
    assert found == [utc(2026, 10, 20, 15), utc(2026, 10, 27, 15), utc(2026, 11, 3, 16), utc(2026, 11, 10, 16)]


def test_a_time_in_the_spring_forward_gap_takes_the_offset_before_it():
    """02:30 does not exist in Denver on 8 March 2026; RFC 5545 reads it with the offset before the gap (MST), so
    the meeting is at 09:30 UTC, 03:30 on the clocks that day. The days around it are 02:30 local."""
    daily = pattern("FREQ=DAILY", start_date=date(2026, 3, 6), start_time=time(2, 30))
    found = recurrence.starts(daily, start=utc(2026, 3, 6), end=utc(2026, 3, 11))
    assert found == [utc(2026, 3, 6, 9, 30), utc(2026, 3, 7, 9, 30), utc(2026, 3, 8, 9, 30), utc(2026, 3, 9, 8, 30),
                     utc(2026, 3, 10, 8, 30)]  # fmt: skip
    assert recurrence.local(found[2], DENVER).time() == time(3, 30)


def test_a_time_in_the_fall_back_fold_is_the_first_of_the_two():
    daily = pattern("FREQ=DAILY", start_date=date(2026, 10, 31), start_time=time(1, 30))
    found = recurrence.starts(daily, start=utc(2026, 10, 31), end=utc(2026, 11, 3))
    # 01:30 on 1 November happens twice; the first (MDT, 07:30 UTC) is the meeting, once.
    assert found == [utc(2026, 10, 31, 7, 30), utc(2026, 11, 1, 7, 30), utc(2026, 11, 2, 8, 30)]


@pytest.mark.parametrize(
    ("rule", "start_date", "expected"),
    [
        # The monthly deep dive: the first Thursday.
        ("FREQ=MONTHLY;BYDAY=1TH", date(2026, 1, 1), [date(2026, 1, 1), date(2026, 2, 5), date(2026, 3, 5)]),
        # The quarterly review: the first Monday of January, April, July and October.
        (
            "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=1MO",
            date(2026, 1, 5),
            [date(2026, 1, 5), date(2026, 4, 6), date(2026, 7, 6)],
        ),
    ],
)
def test_the_charters_monthly_and_quarterly_rules(rule, start_date, expected):
    found = recurrence.starts(pattern(rule, start_date=start_date), start=utc(2026, 1, 1), end=utc(2026, 7, 31))
    assert [recurrence.local(moment, DENVER).date() for moment in found][:3] == expected


def test_until_and_count_end_the_series():
    until = pattern("FREQ=WEEKLY;BYDAY=TU;UNTIL=20260120T160000Z")
    assert len(recurrence.starts(until, start=utc(2026, 1, 1), end=utc(2027, 1, 1))) == 3
    count = pattern("FREQ=WEEKLY;BYDAY=TU;COUNT=2")
    assert len(recurrence.starts(count, start=utc(2026, 1, 1), end=utc(2027, 1, 1))) == 2


def test_until_before_ends_the_rule_one_second_before_a_start():
    rule = recurrence.until_before("FREQ=WEEKLY;BYDAY=TU;COUNT=30", utc(2026, 6, 2, 15))
    assert rule == "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260602T145959Z"
    found = recurrence.starts(pattern(rule), start=utc(2026, 5, 20), end=utc(2026, 7, 1))
    assert found == [utc(2026, 5, 26, 15)]


def test_first_start_and_is_occurrence():
    wednesday_start = pattern(start_date=date(2026, 1, 7))  # a Tuesday rule from a Wednesday
    assert recurrence.first_start(wednesday_start) == utc(2026, 1, 13, 16)
    assert recurrence.is_occurrence(wednesday_start, utc(2026, 1, 13, 16))
    assert not recurrence.is_occurrence(wednesday_start, utc(2026, 1, 13, 17))
    assert recurrence.first_start(pattern("FREQ=WEEKLY;BYDAY=TU;UNTIL=20251231T000000Z")) is None


def test_recurrence_ids_round_trip():
    moment = utc(2026, 12, 8, 16)
    assert recurrence.recurrence_id(moment) == "20261208T160000Z"
    assert recurrence.recurrence_id_parse("20261208T160000Z") == moment
    with pytest.raises(RuleError):
        recurrence.recurrence_id_parse("2026-12-08")


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("", "Give one RRULE value"),
        ("FREQ=HOURLY", "FREQ must be one of"),
        ("FREQ=WEEKLY;BYHOUR=9", "BYHOUR is not allowed"),
        ("DTSTART:20260101T090000\nRRULE:FREQ=DAILY", "Give one RRULE value"),
        ("FREQ=WEEKLY;UNTIL=20260601T000000", "UNTIL must be a time in UTC"),
        ("FREQ=WEEKLY;UNTIL=20260601", "UNTIL must be a time in UTC"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20260601T000000Z", "COUNT or UNTIL"),
        ("FREQ=WEEKLY;BYDAY=XX", "Not a valid recurrence rule"),
        ("FREQ=WEEKLY;INTERVAL=banana", "Not a valid recurrence rule"),
    ],
)
def test_bad_rules_say_why(rule, reason):
    with pytest.raises(RuleError, match=reason):
        recurrence.rule_parse(rule, start_date=date(2026, 1, 6), start_time=time(9), timezone=DENVER)


def test_the_rrule_prefix_is_accepted():
    parsed = recurrence.rule_parse(
        "RRULE:FREQ=WEEKLY;BYDAY=TU", start_date=date(2026, 1, 6), start_time=time(9), timezone=DENVER
    )
    assert parsed is not None


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "america/denver", "../etc/passwd", "EST5EDT" * 20])
def test_unknown_zones_are_refused(name):
    with pytest.raises(RuleError, match="Unknown time zone"):
        recurrence.zone(name)


def test_an_expansion_is_capped():
    daily = pattern("FREQ=DAILY", start_date=date(2000, 1, 1))
    assert len(recurrence.starts(daily, start=utc(2000, 1, 1), end=utc(2030, 1, 1))) == recurrence.MAX_OCCURRENCES
