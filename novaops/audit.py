"""The context every audited write runs in: pghistory puts it into each event row its triggers write. One audit
mechanism for every app (escalation tickets, agents' lifecycle): django-pghistory's append-only event tables, with
who, what and when in each row."""

from datetime import datetime
from typing import Any

import pghistory

from novaops import policies

SYSTEM = "NovaOps"


def actor_label(actor: Any, *, system: str = SYSTEM) -> str:
    """How the trail names whoever acted: a person's name, a division token, or a job of ours (`system`)."""
    if actor is None:
        return system
    if policies.is_division_client(actor):
        return f"{actor.division.name} (token “{actor.token.name}”)"
    return actor.get_full_name() or actor.get_username()


def audited(
    actor: Any, action: str, *, at: datetime | None = None, system: str = SYSTEM, **extra: Any
) -> pghistory.context:
    """Who acted and what they did, and when they did it when the service was told (`at`): the timeline shows that
    time rather than the moment the rows were written (a ticket recorded after the fact, the demo's history)."""
    user_id = None if actor is None or policies.is_division_client(actor) else actor.pk
    when = {"at": at.isoformat()} if at is not None else {}
    return pghistory.context(actor=actor_label(actor, system=system), user=user_id, action=action, **when, **extra)
