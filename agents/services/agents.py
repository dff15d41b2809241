"""Agent writes: register an agent, change one."""

from typing import Any

from agents.models import Agent, Division
from novaops.db import insert_or_conflict


def agent_update(*, agent: Agent, **fields: Any) -> Agent:
    """Change an agent's editable fields; the caller has checked that the user may act for its division.

    Its lifecycle state is not one of them: it moves only through agents.services.lifecycle.agent_transition, which
    checks the machine and records who and why."""
    allowed = {"callsign", "role_title", "tier"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(agent, name, value)
    agent.full_clean()
    agent.save(update_fields=[*fields, "updated_at"])
    return agent


def agent_create(
    *,
    handle: str,
    callsign: str,
    division: Division,
    tier: int = 3,
    role_title: str = "",
    lifecycle_state: str = Agent.Lifecycle.ACTIVE,
) -> Agent:
    """Register a new agent, in any initial state; the caller has checked that the user may create agents.

    A taken handle is a refused operation (ApplicationError, 409), not a validation error: the request is well
    formed, the registry already holds that name. The insert itself decides (no check-then-insert race between
    two clients creating the same handle): the unique index raises, and only then do we look the handle up.
    """
    agent = Agent(
        handle=handle,
        callsign=callsign,
        division=division,
        tier=tier,
        role_title=role_title,
        lifecycle_state=lifecycle_state,
    )
    return insert_or_conflict(agent, unique_field="handle", conflict=f"An agent with handle {handle} already exists.")
