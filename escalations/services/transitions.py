"""Moving a ticket through its states, and up its levels.

Every transition runs under a row lock on the ticket (SELECT … FOR UPDATE): of two people acting at the same
moment, the second waits for the first to commit, then reads the state the first left and is refused (409) with
what happened; nothing is half-applied because each transition is one transaction. A caller that sends the
`version` it saw is also refused when anything else changed meanwhile (a stale page).
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from escalations import constants
from escalations.constants import TRANSITIONS
from escalations.models import Escalation
from escalations.selectors import involved_domain_ids, viewer
from escalations.services.locking import locked
from escalations.services.notifications import notify_assignees
from escalations.services.outcomes import resolution_missing
from escalations.services.raising import assign_level
from novaops.audit import audited
from novaops.errors import Conflict, Forbidden

# What each transition is called in sentences ("cannot acknowledge ESC-4: it is resolved").
PAST = {
    "acknowledge": "acknowledged",
    "start": "started",
    "wait": "put on hold for its raiser",
    "resolve": "resolved",
    "close": "closed",
    "reopen": "reopened",
    "escalate": "escalated",
}


def escalation_transition(
    *, number: int, name: str, actor: Any, version: int | None = None, at: datetime | None = None
) -> Escalation:
    """Apply transition `name` for `actor`: 403 when they may not, 409 when the state (or the kind's outcome)
    refuses. Escalating moves the ticket one level up and hands it to that level's people, who are emailed."""
    if name not in TRANSITIONS:
        raise ValueError(f"Unknown transition {name}")
    at = at or timezone.now()
    with transaction.atomic(), audited(actor, name, at=at):
        escalation = locked(number=number, version=version)
        who = viewer(user=actor, escalation=escalation)
        if not who.may(name, escalation):
            raise Forbidden(who.refusal(name, escalation))
        method = getattr(escalation, name)
        if not can_proceed(method):
            raise Conflict(_wrong_state(escalation, name), extra={"state": escalation.state})
        if name == "escalate" and escalation.level >= constants.LEVEL_MAX:
            raise Conflict(f"{escalation.key} is already at level {constants.LEVEL_MAX}, the top: both Tier 1 leads.")
        if name == "resolve":
            missing = resolution_missing(escalation, domain_ids=involved_domain_ids(escalation))
            if missing:
                raise Conflict(f"{escalation.key} cannot be resolved yet: {missing}")
        method(at=at)
        escalation.version += 1
        escalation.save()
        if name == "escalate":
            users = assign_level(escalation=escalation)
            notify_assignees(escalation=escalation, users=users, reason=f"escalated-level-{escalation.level}")
    return escalation


def _wrong_state(escalation: Escalation, name: str) -> str:
    state = escalation.get_state_display().lower()
    allowed = [
        transition for transition in TRANSITIONS if transition != name and can_proceed(getattr(escalation, transition))
    ]
    hint = f" From here it can be {', '.join(PAST[t] for t in allowed)}." if allowed else ""
    return f"{escalation.key} cannot be {PAST[name]}: it is {state}.{hint}"
