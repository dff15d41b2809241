"""SLA clocks: elapsed, remaining, stopped, paused while the ticket waits on its raiser."""

from datetime import timedelta

from escalations.selectors import clocks, escalation_get, is_breached, sla_policy_for
from escalations.services.transitions import escalation_transition

H = timedelta(hours=1)


def test_clocks_run_stop_and_pause(org, raise_ticket):
    ticket = raise_ticket(priority="P1")  # acknowledge within 1 h, resolve within 1 day
    raised = ticket.created_at
    acknowledge, resolve = clocks(ticket, now=raised + 2 * H)
    assert (acknowledge.elapsed, acknowledge.remaining, acknowledge.breached) == (2 * H, -H, True)
    assert (resolve.remaining, resolve.paused) == (22 * H, False)
    escalation_transition(
        number=ticket.number, name="acknowledge", actor=org.core, at=raised + 30 * timedelta(minutes=1)
    )
    escalation_transition(number=ticket.number, name="wait", actor=org.core, at=raised + 2 * H)
    waiting = escalation_get(number=ticket.number)
    acknowledge, resolve = clocks(waiting, now=raised + 10 * H)
    assert (acknowledge.stopped_at, acknowledge.breached) == (raised + 30 * timedelta(minutes=1), False)
    assert (resolve.elapsed, resolve.remaining, resolve.paused) == (2 * H, 22 * H, True)
    escalation_transition(number=ticket.number, name="start", actor=org.runtime_member, at=raised + 10 * H)
    resumed = escalation_get(number=ticket.number)
    _, resolve = clocks(resumed, now=raised + 12 * H)
    assert (resolve.elapsed, resolve.remaining, resolve.paused) == (4 * H, 20 * H, False)
    assert not is_breached(resumed, now=raised + 12 * H)
    assert is_breached(resumed, now=raised + 33 * H)


def test_a_missing_policy_row_falls_back_to_the_defaults(db):
    from escalations.models import SlaPolicy

    SlaPolicy.objects.filter(priority="P4").delete()
    assert (sla_policy_for(priority="P4").acknowledge_within, sla_policy_for(priority="P4").resolve_within) == (
        timedelta(days=3),
        timedelta(days=30),
    )
