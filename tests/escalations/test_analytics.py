"""The escalations' analytics: known tickets → known MTTA, MTTR (without the time waited), breach rate and ages.
The frames are built by hand for the arithmetic, and read by the selectors from real tickets for the whole path."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import time_machine

from escalations import analytics, selectors
from escalations.models import Escalation
from escalations.services.outcomes import decision_write
from escalations.services.transitions import escalation_transition

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _ticket(number: int, kind: str, priority: str, *, acknowledged=None, resolved=None, paused=H * 0, **extra):
    """A ticket row as selectors.analytics_frames reads it, raised at T0 with P2-like deadlines (4 h, 3 d)."""
    return {
        "number": number,
        "kind": kind,
        "priority": priority,
        "state": extra.pop("state", "resolved" if resolved else "open"),
        "created_at": T0,
        "acknowledged_at": T0 + acknowledged if acknowledged is not None else None,
        "resolved_at": T0 + resolved if resolved is not None else None,
        "paused_seconds": int(paused.total_seconds()),
        "waiting_since": extra.pop("waiting_since", None),
        "acknowledge_due_at": T0 + 4 * H,
        "resolve_due_at": T0 + 72 * H + paused,
        "acknowledge_breached_at": extra.pop("acknowledge_breached_at", None),
        "resolve_breached_at": None,
    }


@pytest.fixture
def tickets() -> pd.DataFrame:
    return pd.DataFrame(
        [
            # acknowledged in 1 h, resolved after 30 h of which 10 h waiting on the raiser: 20 h to resolve
            _ticket(1, "friction", "P1", acknowledged=H, resolved=30 * H, paused=10 * H),
            # acknowledged in 3 h, resolved in 10 h
            _ticket(2, "friction", "P2", acknowledged=3 * H, resolved=10 * H),
            # acknowledged in 5 h: past the 4 h deadline (the job recorded it), not resolved
            _ticket(3, "resource_conflict", "P2", acknowledged=5 * H, acknowledge_breached_at=T0 + 4 * H),
            # never acknowledged
            _ticket(4, "strategic_alignment", "P2"),
        ],
        columns=selectors.TICKET_COLUMNS,
    )


@pytest.fixture
def links() -> pd.DataFrame:
    return pd.DataFrame(
        [(1, "Runtime"), (1, "Workflow"), (2, "Runtime"), (3, "Workflow"), (4, "Tools")], columns=["number", "division"]
    )


def test_mtta_and_mttr_by_kind_leave_out_the_time_waited(tickets):
    by_kind = analytics.response_times(tickets, by="kind").set_index("kind")

    friction = by_kind.loc["friction"]
    assert (friction["tickets"], friction["acknowledged"], friction["resolved"]) == (2, 2, 2)
    assert friction["mtta"] == 2 * H  # (1 h + 3 h) / 2
    assert friction["mttr"] == 15 * H  # (20 h + 10 h) / 2
    conflict = by_kind.loc["resource_conflict"]
    assert (conflict["mtta"], conflict["resolved"]) == (5 * H, 0)
    assert pd.isna(conflict["mttr"])
    assert by_kind.loc["strategic_alignment", "acknowledged"] == 0


def test_times_by_priority_and_by_each_division_involved(tickets, links):
    by_priority = analytics.response_times(tickets, by="priority").set_index("priority")
    assert by_priority.loc["P1", "mttr"] == 20 * H
    assert by_priority.loc["P2", "mtta"] == 4 * H  # (3 h + 5 h) / 2; ticket 4 is not acknowledged

    by_division = analytics.response_times(tickets, by="division", links=links).set_index("division")
    assert list(by_division.index) == ["Runtime", "Tools", "Workflow"]
    assert by_division.loc["Runtime", "mttr"] == 15 * H  # tickets 1 and 2
    assert by_division.loc["Workflow", "tickets"] == 2  # ticket 1 counts for both its divisions
    assert by_division.loc["Workflow", "mtta"] == 3 * H


def test_overall_times(tickets):
    overall = analytics.overall_times(tickets)
    assert (overall["tickets"], overall["acknowledged"], overall["resolved"]) == (4, 3, 2)
    assert overall["mtta"] == 3 * H
    assert overall["mttr"] == 15 * H


def test_the_breach_rate_counts_recorded_and_running_breaches(tickets):
    # At T0 + 5 h: ticket 3's breach is recorded and ticket 4 has not been acknowledged within 4 h.
    assert analytics.breach_rate(tickets, now=T0 + 5 * H) == (2, 4, 0.5)
    # Before any deadline (and ignoring what the job recorded, which cannot have happened yet) nothing else is late.
    assert list(analytics.breached(tickets, now=T0 + 2 * H)) == [False, False, True, False]


def test_a_waiting_ticket_does_not_breach_its_resolve_deadline(tickets):
    waiting = _ticket(5, "friction", "P2", acknowledged=H, state="waiting_on_raiser", waiting_since=T0 + 2 * H)
    frame = pd.DataFrame([waiting], columns=selectors.TICKET_COLUMNS)
    assert not analytics.breached(frame, now=T0 + 30 * 24 * H).any()


def test_no_tickets_no_numbers():
    empty = pd.DataFrame(columns=selectors.TICKET_COLUMNS)
    assert analytics.response_times(empty, by="kind").empty
    assert analytics.response_times(empty, by="division", links=pd.DataFrame(columns=["number", "division"])).empty
    assert analytics.breach_rate(empty, now=T0) == (0, 0, None)
    assert analytics.overall_times(empty)["tickets"] == 0
    assert analytics.age_buckets([], now=T0) == [(label, 0) for label, _ in analytics.AGE_BUCKETS]


def test_open_tickets_by_age():
    created = [T0 - 30 * timedelta(minutes=1), T0 - H, T0 - 23 * H, T0 - 24 * H, T0 - 8 * 24 * H]
    assert analytics.age_buckets(created, now=T0) == [
        ("Under 1 hour", 1),
        ("1 to 24 hours", 2),
        ("1 to 7 days", 1),
        ("Over 7 days", 1),
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (pd.NaT, "–"),
        (45 * timedelta(minutes=1), "45 min"),
        (3 * H + 5 * timedelta(minutes=1), "3 h 05 min"),
    ]
    + [(2 * 24 * H + 4 * H, "2 d 4 h"), (3 * 24 * H, "3 d")],
)
def test_duration_text(value, text):
    assert analytics.duration_text(value) == text


def test_known_tickets_read_from_the_database(org, raise_ticket):
    """The whole path: tickets raised and worked with a moved clock, read by the selectors, measured."""
    with time_machine.travel(T0, tick=False) as clock:
        first = raise_ticket(Escalation.Kind.FRICTION, priority="P1")  # level 2: the Tier 1 leads answer
        second = raise_ticket(Escalation.Kind.FRICTION, priority="P1")
        raise_ticket(Escalation.Kind.FRICTION, priority="P1")  # never acknowledged: breaches after 1 h
        clock.shift(30 * timedelta(minutes=1))
        for ticket in (first, second):
            escalation_transition(number=ticket.number, name="acknowledge", actor=org.core)
            escalation_transition(number=ticket.number, name="start", actor=org.core)
            decision_write(number=ticket.number, actor=org.core, text="Agreed on a shared rota.")
        escalation_transition(number=first.number, name="wait", actor=org.core)
        clock.shift(2 * H)
        escalation_transition(number=first.number, name="start", actor=org.runtime_member)
        clock.shift(H)  # T0 + 3.5 h; the first waited 2 h of it
        escalation_transition(number=first.number, name="resolve", actor=org.core)
        escalation_transition(number=second.number, name="resolve", actor=org.core)

    tickets, links = selectors.analytics_frames(start=T0 - H, end=T0 + H)
    overall = analytics.overall_times(tickets)
    assert (overall["tickets"], overall["acknowledged"], overall["resolved"]) == (3, 2, 2)
    assert overall["mtta"] == 30 * timedelta(minutes=1)
    assert overall["mttr"] == (90 + 210) / 2 * timedelta(minutes=1)  # 1.5 h (3.5 h less 2 h waited) and 3.5 h
    assert analytics.breach_rate(tickets, now=T0 + 4 * H) == (1, 3, pytest.approx(1 / 3))
    by_division = analytics.response_times(tickets, by="division", links=links)
    assert set(by_division["division"]) == {"NovaCore Runtime", "Workflow Engineering"}
    assert selectors.analytics_frames(start=T0 + H, end=T0 + 2 * H)[0].empty
