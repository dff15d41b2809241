"""The one way a write takes hold of a ticket."""

from escalations.models import Escalation
from escalations.selectors import escalation_queryset
from novaops.errors import Conflict


def locked(*, number: int, version: int | None = None) -> Escalation:
    """The ticket, locked for this transaction, with what the policy reads; a stale `version` is a 409."""
    escalation = escalation_queryset().select_for_update(of=("self",)).get(number=number)
    if version is not None and escalation.version != version:
        raise Conflict(
            f"{escalation.key} changed since you loaded it: it is now {escalation.get_state_display().lower()} "
            f"at level {escalation.level}. Reload and try again.",
            extra={"state": escalation.state, "level": escalation.level, "version": escalation.version},
        )
    return escalation
