"""An agent's lifecycle: provisioning → deployed → active ⇄ degraded, active / degraded → paused → active, any →
retired (final). Each transition runs under a row lock on the agent and in an audited context, so the trail row
the database writes for it says who, why, when and the version deployed.

Who may: Tier 1 leads for every agent, division members (and its lead) for their own division's; the heartbeat
job (actor None) degrades and recovers.
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from agents.models import Agent
from novaops import policies
from novaops.audit import audited
from novaops.errors import Conflict, Forbidden, InvalidInput

TRANSITIONS = ("deploy", "activate", "degrade", "recover", "pause", "retire")
# Said of an agent after each transition ("ta_00012 was deployed").
PAST = {
    "deploy": "deployed",
    "activate": "activated",
    "degrade": "marked degraded",
    "recover": "marked recovered",
    "pause": "paused",
    "retire": "retired",
}
VERSION_MAX = 80
# How the trail names our own liveness monitor when it moves an agent (actor None).
MONITOR = "NovaOps heartbeat monitor"
REASON_MAX = 500


def may_transition(user: Any, agent: Agent) -> bool:
    """Leads for every agent; members and leads of its division for their own."""
    return policies.can_edit_division(user, agent.division_id)


def available_transitions(agent: Agent, *, user: Any) -> list[str]:
    """The transitions this viewer may make now: the buttons the agent page shows."""
    if not may_transition(user, agent):
        return []
    return [name for name in TRANSITIONS if can_proceed(getattr(agent, name))]


def agent_transition(
    *,
    agent: Agent,
    name: str,
    actor: Any,
    reason: str = "",
    version: str = "",
    at: datetime | None = None,
    system: str = MONITOR,
) -> Agent:
    """Move `agent` through `name`: 403 when the actor may not, 409 when its state refuses (saying which transitions
    remain), 400 for a deploy without a version. `actor` None is our own job (the heartbeat monitor)."""
    if name not in TRANSITIONS:
        raise ValueError(f"Unknown transition {name}")
    _check_input(name, reason=reason, version=version)
    at = at or timezone.now()
    extra = {"reason": reason.strip()} if reason.strip() else {}
    if version:
        extra["version"] = version.strip()
    with transaction.atomic(), audited(actor, name, at=at, system=system, **extra):
        locked = Agent.objects.select_for_update().select_related("division").get(pk=agent.pk)
        if actor is not None and not may_transition(actor, locked):
            raise Forbidden(
                f"You cannot change {locked.handle}'s lifecycle: only Tier 1 leads and {locked.division.name}'s "
                "members can."
            )
        method = getattr(locked, name)
        if not can_proceed(method):
            raise Conflict(_wrong_state(locked, name), extra={"state": locked.lifecycle_state})
        method(version=version.strip()) if name == "deploy" else method()
        locked.save(update_fields=["lifecycle_state", "deployed_version", "updated_at"])
    return locked


def _check_input(name: str, *, reason: str, version: str) -> None:
    errors = []
    if name == "deploy" and not version.strip():
        errors.append({"field": "version", "message": "A deploy names the version deployed."})
    if len(version) > VERSION_MAX:
        errors.append({"field": "version", "message": f"At most {VERSION_MAX} characters."})
    if len(reason) > REASON_MAX:
        errors.append({"field": "reason", "message": f"At most {REASON_MAX} characters."})
    if errors:
        raise InvalidInput("The transition cannot be made as given.", errors=errors)


def _wrong_state(agent: Agent, name: str) -> str:
    allowed = [PAST[other] for other in TRANSITIONS if other != name and can_proceed(getattr(agent, other))]
    hint = f" From here it can be {', '.join(allowed)}." if allowed else ""
    return f"{agent.handle} cannot be {PAST[name]}: it is {agent.get_lifecycle_state_display().lower()}.{hint}"
