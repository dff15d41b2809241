"""The silent-division escalation: when more than a division's `silent_share` of its live (active or degraded)
agents are silent, the fleet monitor raises one friction escalation for that division, and no other while that
one is active (open, acknowledged, in progress or waiting); after it is resolved, a new episode raises a new one.

Silence is agents.selectors' rule (the heartbeat deadline), read here so that agents never imports escalations.
"""

import logging
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from agents.selectors import division_silence_list, liveness_watching_since
from escalations.constants import LINKS_MAX
from escalations.models import ACTIVE_STATES, Escalation
from escalations.services.raising import Links, Raise, escalation_raise

logger = logging.getLogger(__name__)

MONITOR = "NovaOps fleet monitor"
# The marker of the monitor's tickets: their title starts with it (and raised_token_name is MONITOR, no person).
TITLE_PREFIX = "Silent agents in "
# Advisory-lock namespace: one lock per division, held while checking for an open ticket and raising one, so two
# runs at once raise one ticket.
LOCK_NAMESPACE = 7_201_111
HANDLES_LISTED = 100


def silent_divisions_escalate(*, now: datetime | None = None, watching_since: datetime | None = None) -> list[int]:
    """Raise one friction escalation for each division with too many silent agents at `now` that has no active one
    from the monitor yet; returns the numbers raised. Safe twice, late or at once (see `_raise_once`). Silence
    counts only while the liveness monitor has been watching (agents.selectors.silent_agents); without
    `watching_since`, its current run says since when."""
    now = now or timezone.now()
    if watching_since is None:
        watching_since = liveness_watching_since(now=now)
    raised = []
    for row in division_silence_list(now=now, watching_since=watching_since):
        division, live, silent = row["division"], row["live"], row["silent"]
        if len(silent) > division.silent_share * live:
            escalation = _raise_once(division=division, live=live, silent=silent, now=now)
            if escalation is not None:
                raised.append(escalation.number)
    return raised


def monitor_escalations(*, division: Any) -> Any:
    """The monitor's active tickets for `division` (at most one)."""
    return Escalation.objects.filter(
        kind=Escalation.Kind.FRICTION,
        raised_division=division,
        raised_by__isnull=True,
        raised_token_name=MONITOR,
        title__startswith=TITLE_PREFIX,
        state__in=ACTIVE_STATES,
    )


def _raise_once(*, division: Any, live: int, silent: list[Any], now: datetime) -> Escalation | None:
    """Under the division's advisory lock (until this transaction ends): no active monitor ticket → raise one. A
    second run waits for the lock, then finds the first one's ticket committed and raises nothing."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, division.pk])
        if monitor_escalations(division=division).exists():
            return None
        escalation = escalation_raise(actor=None, request=_request(division, live, silent), at=now, system=MONITOR)
    logger.info("%s raised for %s: %d of %d agents silent", escalation.key, division.name, len(silent), live)
    return escalation


def _request(division: Any, live: int, silent: list[Any]) -> Raise:
    handles = [agent.handle for agent in silent]
    listed = ", ".join(handles[:HANDLES_LISTED]) + (
        f" and {len(handles) - HANDLES_LISTED} more" if len(handles) > HANDLES_LISTED else ""
    )
    return Raise(
        kind=Escalation.Kind.FRICTION,
        title=f"{TITLE_PREFIX}{division.name}: {len(silent)} of {live}",
        description=(
            f"{len(silent)} of {division.name}'s {live} active or degraded agents have sent no heartbeat (nor "
            f"metrics) within their period and grace, more than the division's threshold of "
            f"{division.silent_share:.0%}. Silent: {listed}."
        ),
        priority=Escalation.Priority.P2,
        raised_division=division,
        divisions=[division],
        links=Links(agents=silent[:LINKS_MAX]),
    )
