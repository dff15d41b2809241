"""Liveness: agents report that they are alive (a heartbeat, or implicitly a landed metrics batch:
metrics.services.landing), and the monitor degrades an active agent whose report is overdue and recovers a degraded
one that reports again, each exactly once per change.

The deadline rule is agents.selectors' (`silent_agents`), which the fleet page and the silent-division escalation
read too.
"""

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from agents.constants import LIVENESS_COMPONENT, LIVENESS_GAP
from agents.models import Agent
from agents.selectors import VERSION_REPORTED_ACTION, overdue_agents, reporting_degraded_agents
from agents.services.lifecycle import MONITOR, VERSION_MAX, agent_transition
from novaops.audit import audited
from novaops.errors import Conflict, InvalidInput
from novaops.services import heartbeat_run

logger = logging.getLogger(__name__)

STATUS_MAX = 200  # Agent.status_message


def heartbeat_record(
    *, agent: Agent, actor: Any, version: str | None = None, status: str | None = None, at: datetime | None = None
) -> Agent:
    """Record that `agent` is alive at `at` (now): `last_seen_at` never moves backwards; a status message replaces
    the last one when given; a version other than the deployed one becomes the deployed version, in the trail as
    reported by `actor` (a division token)."""
    _check(version=version, status=status)
    at = at or timezone.now()
    version = (version or "").strip()
    with transaction.atomic():
        locked = Agent.objects.select_for_update().get(pk=agent.pk)
        fields = ["updated_at"]
        if locked.last_seen_at is None or locked.last_seen_at < at:
            locked.last_seen_at = at
            fields.append("last_seen_at")
        if status is not None:
            locked.status_message = status.strip()
            fields.append("status_message")
        if version and version != locked.deployed_version:
            locked.deployed_version = version
            with audited(actor, VERSION_REPORTED_ACTION, at=at, version=version):
                locked.save(update_fields=[*fields, "deployed_version"])
        else:
            locked.save(update_fields=fields)
    return locked


def _check(*, version: str | None, status: str | None) -> None:
    errors = []
    if version is not None and len(version) > VERSION_MAX:
        errors.append({"field": "version", "message": f"At most {VERSION_MAX} characters."})
    if status is not None and len(status) > STATUS_MAX:
        errors.append({"field": "status", "message": f"At most {STATUS_MAX} characters."})
    if errors:
        raise InvalidInput("The heartbeat cannot be recorded as given.", errors=errors)


def liveness_check(*, now: datetime | None = None, watching_since: datetime | None = None) -> dict[str, list[str]]:
    """Degrade the active agents whose heartbeat is overdue at `now`, recover the degraded ones that reported since;
    returns the handles each way. Without `watching_since` (the beat task), the run is recorded first and the
    monitor's unbroken run decides when silence counts (agents.selectors.silent_agents): after NovaOps was down,
    agents get their whole allowance to report again before any is degraded.

    Safe twice, late or in two workers at once: each candidate is taken under its row lock and checked again there
    (it may have reported, or another run may have moved it, since the candidates were read), and the lifecycle
    service refuses a transition its state no longer allows (a 409 here means another run did it).
    """
    now = now or timezone.now()
    if watching_since is None:
        watching_since = heartbeat_run(component=LIVENESS_COMPONENT, at=now, gap=LIVENESS_GAP)
    overdue = overdue_agents(now=now, watching_since=watching_since)
    degraded = [agent.handle for agent in overdue if _transition(agent, "degrade", overdue, now)]
    recovered = [
        agent.handle
        for agent in reporting_degraded_agents()
        if _transition(agent, "recover", reporting_degraded_agents(), now)
    ]
    return {"degraded": degraded, "recovered": recovered}


def _transition(agent: Agent, name: str, candidates: Any, now: datetime) -> bool:
    with transaction.atomic():
        still = candidates.filter(pk=agent.pk).select_for_update(of=("self",)).first()
        if still is None:
            return False
        try:
            agent_transition(agent=still, name=name, actor=None, reason=_reason(still, name), at=now, system=MONITOR)
        except Conflict:
            return False
    logger.info("%s %s by the heartbeat monitor", agent.handle, name)
    return True


def _reason(agent: Agent, name: str) -> str:
    if name == "recover":
        return f"reported again at {agent.last_seen_at:%Y-%m-%d %H:%M:%S} UTC"
    if agent.last_seen_at is None:
        return f"no heartbeat since it became active at {agent.state_since:%Y-%m-%d %H:%M:%S} UTC"
    return f"no heartbeat since {agent.last_seen_at:%Y-%m-%d %H:%M:%S} UTC"
