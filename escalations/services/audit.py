"""The context every audited write runs in: pghistory puts it into each event row its triggers write."""

from typing import Any

import pghistory

from novaops import policies

SYSTEM = "NovaOps SLA"


def actor_label(actor: Any) -> str:
    """How the trail names whoever acted: a person's name, a division token, or the SLA job."""
    if actor is None:
        return SYSTEM
    if policies.is_division_client(actor):
        return f"{actor.division.name} (token “{actor.token.name}”)"
    return actor.get_full_name() or actor.get_username()


def audited(actor: Any, action: str) -> pghistory.context:
    user_id = None if actor is None or policies.is_division_client(actor) else actor.pk
    return pghistory.context(actor=actor_label(actor), user=user_id, action=action)
