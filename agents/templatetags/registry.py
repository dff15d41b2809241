"""Template helpers of the registry pages."""

from django import template
from django.conf import settings

from agents.models import Agent

register = template.Library()

# Colour plus the state's name in text, so the state never depends on colour alone.
LIFECYCLE_BADGES: dict[str, str] = {
    Agent.Lifecycle.ACTIVE: "text-bg-success",
    Agent.Lifecycle.PROVISIONING: "text-bg-info",
    Agent.Lifecycle.DEPLOYED: "text-bg-primary",
    Agent.Lifecycle.DEGRADED: "text-bg-danger",
    Agent.Lifecycle.PAUSED: "text-bg-warning",
    Agent.Lifecycle.RETIRED: "text-bg-secondary",
}


@register.simple_tag
def demo_mode() -> bool:
    """True on a demo install (NOVAOPS_DEMO, which `make run` sets): the sign-in page shows the demo logins only then.

    A tag rather than a context processor: the sign-in view comes from django.contrib.auth and the debug context
    processor also depends on INTERNAL_IPS.
    """
    return bool(settings.NOVAOPS_DEMO)


@register.filter
def lifecycle_badge(state: str) -> str:
    """The Bootstrap badge classes of a lifecycle state."""
    return LIFECYCLE_BADGES.get(state, "text-bg-light")
