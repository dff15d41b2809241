"""The agent page's lifecycle (agents/views/lifecycle.py and the agent page): the buttons each viewer gets, a
transition made, a refusal shown with its status on the page again, and the timeline."""

from datetime import UTC, datetime
from html import escape

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from agents.models import Agent
from agents.services.lifecycle import agent_transition

S = Agent.Lifecycle


def _page(handle: str) -> str:
    return reverse("agents:agent_detail", kwargs={"handle": handle})


def _transition(handle: str, name: str) -> str:
    return reverse("agents:agent_transition", kwargs={"handle": handle, "transition": name})


def _buttons(html: str, handle: str) -> list[str]:
    return [
        name for name in ("deploy", "activate", "degrade", "recover", "pause", "retire") if _form(handle, name) in html
    ]


def _form(handle: str, name: str) -> str:
    return f'action="{_transition(handle, name)}"'


@pytest.mark.parametrize(
    ("role", "handle", "buttons"),
    [
        pytest.param("lead", "ta_00002", ["activate", "retire"], id="lead-paused"),
        pytest.param("lead", "ta_00010", ["deploy", "retire"], id="lead-provisioning-other-division"),
        pytest.param("member", "ta_00001", ["degrade", "pause", "retire"], id="member-own-active"),
        pytest.param("member", "ta_00010", [], id="member-other-division"),
        pytest.param("other_member", "ta_00010", ["deploy", "retire"], id="other-member-own"),
        pytest.param("viewer", "ta_00001", [], id="viewer"),
        pytest.param("lead", "ta_00152", [], id="retired"),
    ],
)
def test_the_page_shows_the_transitions_this_viewer_may_make(client_as, registry, role, handle, buttons):
    html = client_as(role).get(_page(handle)).content.decode()

    assert _buttons(html, handle) == buttons
    if "deploy" in buttons:
        assert 'name="version"' in html and "Version deployed" in html
    if not buttons:
        assert "Only Tier 1 leads" in html or "is retired: its lifecycle is over" in html


def test_a_member_pauses_an_agent_of_their_division(client_as, registry):
    page = client_as("member").post(_transition("ta_00001", "pause"), {"reason": "Maintenance window"}, follow=True)

    assertRedirects(page, _page("ta_00001"))
    assert Agent.objects.get(handle="ta_00001").lifecycle_state == S.PAUSED
    assertContains(page, "ta_00001 was paused.")
    assertContains(page, "“Maintenance window”")
    assertContains(page, "Active → Paused")


def test_a_deploy_records_its_version(client_as, registry):
    client = client_as("lead")
    response = client.post(_transition("ta_00010", "deploy"), {"version": "3.1.0"}, follow=True)

    assertContains(response, "ta_00010 was deployed.")
    assertContains(response, "<code>3.1.0</code>")
    assert Agent.objects.get(handle="ta_00010").deployed_version == "3.1.0"


@pytest.mark.parametrize(
    ("role", "handle", "name", "data", "status", "message"),
    [
        pytest.param(
            "member",
            "ta_00010",
            "retire",
            {},
            403,
            "You cannot change ta_00010’s lifecycle: only Tier 1 leads and Tool Ecosystem’s members can.",
            id="other-division-403",
        ),
        pytest.param(
            "viewer",
            "ta_00001",
            "pause",
            {},
            403,
            "You cannot change ta_00001’s lifecycle",
            id="viewer-403",
        ),
        pytest.param(
            "lead",
            "ta_00001",
            "recover",
            {"reason": "Back"},
            409,
            "ta_00001 cannot be marked recovered: it is active. From here it can be marked degraded, paused, retired.",
            id="wrong-state-409",
        ),
        pytest.param(
            "lead", "ta_00010", "deploy", {"reason": "Release"}, 400, "A deploy names the version deployed.", id="400"
        ),
        pytest.param(
            "lead",
            "ta_00001",
            "pause",
            {"reason": "r" * 501},
            400,
            "Reason: Ensure this value has at most 500 characters (it has 501).",
            id="reason-too-long-400",
        ),
    ],
)
def test_a_refusal_shows_the_page_again_with_the_message_and_status(
    client_as, registry, role, handle, name, data, status, message
):
    before = Agent.objects.get(handle=handle).lifecycle_state

    response = client_as(role).post(_transition(handle, name), data)

    assert response.status_code == status
    html = response.content.decode()
    assert f"Refused ({status}):" in html
    assert escape(message).replace("&#x27;", "’") in html.replace("&#x27;", "’") or message in html
    assert 'id="lifecycle-title"' in html  # the whole agent page, not an error page
    assert Agent.objects.get(handle=handle).lifecycle_state == before


def test_a_refused_deploy_keeps_what_was_typed(client_as, registry):
    response = client_as("lead").post(_transition("ta_00010", "deploy"), {"version": " ", "reason": "Release 9"})

    assert response.status_code == 400
    assertContains(response, 'value="Release 9"', status_code=400)


def test_unknown_transition_is_404_and_get_is_405(client_as, registry):
    client = client_as("lead")
    assert client.post(_transition("ta_00001", "pause").replace("pause", "explode")).status_code == 404
    assert client.get(_transition("ta_00001", "pause")).status_code == 405
    assert Agent.objects.get(handle="ta_00001").lifecycle_state == S.ACTIVE


def test_anonymous_users_are_sent_to_sign_in(client, registry):
    response = client.post(_transition("ta_00001", "pause"))
    assert response.status_code == 302
    assert Agent.objects.get(handle="ta_00001").lifecycle_state == S.ACTIVE


def test_the_timeline_lists_who_when_from_to_why_and_version_newest_first(client_as, registry, cast):
    agent = registry["ta_00010"]
    agent_transition(
        agent=agent,
        name="deploy",
        actor=cast.lead,
        version="2.0.0",
        reason="First release",
        at=datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
    )
    agent_transition(agent=agent, name="activate", actor=cast.other_member, at=datetime(2026, 1, 6, 9, 15, tzinfo=UTC))

    html = client_as("viewer").get(_page("ta_00010")).content.decode()

    activate = html.index("6 Jan 2026, 09:15 UTC")
    deploy = html.index("5 Jan 2026, 08:00 UTC")
    assert activate < deploy  # newest first
    assert "<strong>other</strong> · activate" in html
    assert "<strong>lead</strong> · deploy" in html
    assert "Provisioning → Deployed · version <code>2.0.0</code>" in html
    assert "Deployed → Active" in html
    assert "“First release”" in html
    assert "registered" in html  # the row its creation wrote


def test_an_agent_without_history_beyond_creation_still_has_a_timeline(client_as, registry):
    html = client_as("viewer").get(_page("ta_00001")).content.decode()
    assert "No lifecycle changes recorded yet." not in html
    assert "· registered" in html


def test_the_edit_form_has_no_lifecycle_field(client_as, registry):
    response = client_as("lead").get(reverse("agents:agent_edit", kwargs={"handle": "ta_00001"}))
    assertNotContains(response, 'name="lifecycle_state"')
