"""Template helpers of the registry pages (agents/templatetags/registry.py)."""

from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from agents.models import Agent
from agents.templatetags.registry import lifecycle_badge


def test_sign_in_page_shows_the_demo_logins_only_on_a_demo_install(client, settings, db):
    settings.NOVAOPS_DEMO = False
    assertNotContains(client.get(reverse("login")), "Demo logins")
    settings.NOVAOPS_DEMO = True
    assertContains(
        client.get(reverse("login")),
        "Demo logins:</strong> core, meridian, member, runtime-lead, workflow-lead, viewer — password",
    )


def test_every_lifecycle_state_has_its_badge():
    badges = {state: lifecycle_badge(state) for state in Agent.Lifecycle.values}

    assert badges == {
        "provisioning": "text-bg-info",
        "deployed": "text-bg-primary",
        "active": "text-bg-success",
        "degraded": "text-bg-danger",
        "paused": "text-bg-warning",
        "retired": "text-bg-secondary",
    }
    assert lifecycle_badge("zombie") == "text-bg-light"
