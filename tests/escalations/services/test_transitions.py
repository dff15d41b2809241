"""Every transition from every state for every relation a person (or a token) can have to a ticket, and two
people acting at the same moment on two real connections."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from escalations.models import Escalation, EscalationEvent
from escalations.services.outcomes import Allocation, allocation_decide
from escalations.services.transitions import escalation_transition
from novaops.errors import Conflict, Forbidden, InvalidInput
from tests.escalations.conftest import ACTORS, PATHS

# The ticket (raised by runtime-member for runtime against workflow, level 1) is assigned to the two division leads;
# Tier 1 leads act on any ticket. The raiser's side (the member, and runtime's lead) may close, reopen, escalate and
# resume a ticket waiting on them. Nobody else, and no token, may move it.
RESPONDERS = {"core", "meridian", "runtime_lead", "workflow_lead"}
RAISERS = {"runtime_lead", "runtime_member"}
WHO = {
    "acknowledge": RESPONDERS,
    "start": RESPONDERS,
    "wait": RESPONDERS,
    "resolve": RESPONDERS,
    "close": RESPONDERS | RAISERS,
    "reopen": RESPONDERS | RAISERS,
    "escalate": RESPONDERS | RAISERS,
}
FROM = {
    "acknowledge": {"open"},
    "start": {"open", "acknowledged", "waiting_on_raiser"},
    "wait": {"acknowledged", "in_progress"},
    "resolve": {"in_progress"},
    "close": {"resolved"},
    "reopen": {"resolved"},
    "escalate": {"open", "acknowledged", "in_progress", "waiting_on_raiser"},
}
TARGET = {
    "acknowledge": "acknowledged",
    "start": "in_progress",
    "wait": "waiting_on_raiser",
    "resolve": "resolved",
    "close": "closed",
    "reopen": "in_progress",
}


def expected(name: str, state: str, who: str) -> str:
    allowed = WHO[name] | (RAISERS if (name, state) == ("start", "waiting_on_raiser") else set())
    if who not in allowed:
        return "403"
    return "allowed" if state in FROM[name] else "409"


class _Undo(Exception):
    """Rolls one attempt back, so every actor tries the same ticket in the same state."""


def attempt(ticket: Escalation, name: str, actor) -> str:
    try:
        with transaction.atomic():
            moved = escalation_transition(number=ticket.number, name=name, actor=actor)
            if name == "escalate":
                assert (moved.state, moved.level) == (ticket.state, ticket.level + 1)
            else:
                assert moved.state == TARGET[name]
            assert moved.version == ticket.version + 1
            raise _Undo
    except _Undo:
        return "allowed"
    except Forbidden:
        return "403"
    except Conflict:
        return "409"


@pytest.mark.parametrize("state", list(PATHS))
@pytest.mark.parametrize("name", list(WHO))
def test_every_transition_for_every_role(ticket_in, actor, name, state):
    ticket = ticket_in(state)
    assert ticket.state == state
    outcomes = {who: attempt(ticket, name, actor(who)) for who in ACTORS}
    assert outcomes == {who: expected(name, state, who) for who in ACTORS}
    assert Escalation.objects.get(pk=ticket.pk).state == state  # every refusal left it as it was


def test_refusals_say_why(ticket_in, org, division_client):
    ticket = ticket_in("open")
    with pytest.raises(Forbidden, match=r"only its assignees or a Tier 1 lead"):
        escalation_transition(number=ticket.number, name="acknowledge", actor=org.tools_member)
    with pytest.raises(Forbidden, match="division token can raise and comment"):
        escalation_transition(number=ticket.number, name="escalate", actor=division_client)
    with pytest.raises(Conflict, match=r"cannot be resolved: it is open\. From here it can be acknowledged"):
        escalation_transition(number=ticket.number, name="resolve", actor=org.core)


def test_level_three_is_the_top(ticket_in, org):
    ticket = ticket_in("acknowledged")
    for level in (2, 3):
        ticket = escalation_transition(number=ticket.number, name="escalate", actor=org.runtime_member)
        assert ticket.level == level
    assert {user.username for user in ticket.assignees.all()} == {"core", "meridian"}
    with pytest.raises(Conflict, match="already at level 3"):
        escalation_transition(number=ticket.number, name="escalate", actor=org.core)


def test_a_stale_version_is_refused(ticket_in, org):
    ticket = ticket_in("open")
    escalation_transition(number=ticket.number, name="acknowledge", actor=org.core, version=ticket.version)
    with pytest.raises(Conflict, match="changed since you loaded it"):
        escalation_transition(number=ticket.number, name="escalate", actor=org.core, version=ticket.version)


def test_resolving_needs_the_kinds_outcome(raise_ticket, org):
    ticket = raise_ticket()  # a resource conflict without claims
    escalation_transition(number=ticket.number, name="start", actor=org.core)
    with pytest.raises(Conflict, match="needs at least one claim"):
        escalation_transition(number=ticket.number, name="resolve", actor=org.core)


def test_waiting_pauses_the_resolve_clock(ticket_in, org):
    ticket = ticket_in("acknowledged")
    due = ticket.resolve_due_at
    now = timezone.now()
    escalation_transition(number=ticket.number, name="wait", actor=org.core, at=now)
    resumed = escalation_transition(
        number=ticket.number, name="start", actor=org.runtime_member, at=now + timedelta(hours=5)
    )
    assert (resumed.resolve_due_at - due, resumed.paused_seconds) == (timedelta(hours=5), 5 * 3600)
    assert resumed.waiting_since is None


def _at_once(*calls):
    """Run each call on its own thread and database connection, released together; their outcomes in order."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as error:  # the outcome under test
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["acknowledge", "escalate"])
def test_two_people_at_once_one_wins(ticket_in, org, name):
    ticket = ticket_in("open")
    version = ticket.version
    outcomes = _at_once(
        *(
            lambda who=who: escalation_transition(number=ticket.number, name=name, actor=who, version=version)
            for who in (org.runtime_lead, org.workflow_lead)
        )
    )
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Conflict", "Escalation"]
    after = Escalation.objects.get(pk=ticket.pk)
    assert (after.state, after.level, after.version) == (
        ("acknowledged", 1, version + 1) if name == "acknowledge" else ("open", 2, version + 1)
    )
    events = EscalationEvent.objects.filter(pgh_obj_id=ticket.pk, pgh_context__action=name)
    assert events.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_decisions_at_once_never_exceed_the_capacity(raise_ticket, org):
    from escalations.services.raising import Claim

    claims = [
        Claim(division=org.runtime, amount=Decimal(80), justification="Training"),
        Claim(division=org.workflow, amount=Decimal(80), justification="Batch"),
    ]
    ticket = raise_ticket(capacity=Decimal(100), claims=claims)
    first, second = ticket.claims.order_by("pk")
    outcomes = _at_once(
        *(
            lambda who=who, claim=claim: allocation_decide(
                number=ticket.number, actor=who, allocations=[Allocation(claim.pk, Decimal(80))], rationale=""
            )
            for who, claim in ((org.core, first), (org.meridian, second))
        )
    )
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Escalation", "InvalidInput"]
    assert isinstance(next(o for o in outcomes if isinstance(o, Exception)), InvalidInput)
    allotted = [claim.allocated for claim in ticket.claims.all() if claim.allocated is not None]
    assert sum(allotted) == Decimal(80)
