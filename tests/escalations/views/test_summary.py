"""The escalations on the dashboards: the overview's panel per role and its empty state, the charts' annotations
(JSON for a range and a division, metric or agent) and their refusals as problem JSON."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from escalations.models import Escalation, EscalationMetric
from escalations.services.transitions import escalation_transition
from metrics.models import Metric
from tests.factories import AgentFactory, UserFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PANEL = reverse("escalations:overview_panel")
ANNOTATIONS = reverse("escalations:annotations")


@pytest.fixture
def tickets(org, raise_ticket):
    """Three tickets raised an hour apart from T0: a P3 conflict, a P1 friction, a P2 conflict later acknowledged
    and escalated past its deadline; the first links the error-rate metric."""
    with time_machine.travel(T0, tick=False) as clock:
        calm = raise_ticket(priority="P3", title="Calm conflict")
        clock.shift(timedelta(hours=1))
        urgent = raise_ticket(Escalation.Kind.FRICTION, priority="P1", title="Urgent friction")
        clock.shift(timedelta(hours=1))
        late = raise_ticket(priority="P2", title="Late conflict", divisions=[org.tools])
    EscalationMetric.objects.create(escalation=calm, metric=Metric.objects.get(key="error_rate_pct"))
    return calm, urgent, late


def _panel(client, user):
    client.force_login(user)
    return client.get(PANEL, headers={"HX-Request": "true"})


def test_the_panel_lists_breached_first_then_by_priority(client, org, tickets):
    calm, urgent, late = tickets
    # Long after T0 every unacknowledged clock has run out, except the calm one's (P3: a day) which was acknowledged.
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        escalation_transition(number=calm.number, name="acknowledge", actor=org.runtime_lead)
    with time_machine.travel(T0 + timedelta(hours=6, minutes=1), tick=False):
        response = _panel(client, org.viewer)

    assert response.status_code == 200
    body = response.content.decode()
    # urgent (P1, due at +2 h) and late (P2, due at +6 h) are breached; calm (P3) is not.
    assert body.index(urgent.key) < body.index(late.key) < body.index(calm.key)
    assert body.count("Breached</span>") == 2
    assert "<strong>2</strong> open" in body and "<strong>1</strong> acknowledged" in body
    assert reverse("escalations:detail", args=[urgent.number]) in body
    assert "Assigned to you" not in body  # a viewer answers nothing


@pytest.mark.parametrize(
    ("who", "marked"),
    [("runtime_lead", ["calm", "late"]), ("tools_lead", ["late"]), ("core", ["urgent"]), ("runtime_member", [])],
)
def test_the_panel_marks_the_viewers_own_tickets(client, org, tickets, who, marked):
    body = _panel(client, org.user(who)).content.decode()
    rows = dict(zip(("calm", "urgent", "late"), tickets, strict=True))
    for name, ticket in rows.items():
        row = body[body.index(ticket.key) :].split("</tr>")[0]
        assert ("Assigned to you" in row) == (name in marked), name


def test_the_panel_without_active_tickets(client, org, raise_ticket):
    assert "No active escalations" in _panel(client, org.viewer).content.decode()


def test_the_panel_is_for_people_with_a_role(client, org):
    assert client.get(PANEL).status_code == 302
    assert client.get(PANEL, headers={"HX-Request": "true"})["HX-Redirect"].startswith(reverse("login"))
    assert _panel(client, UserFactory(username="nobody")).status_code == 403


def test_the_overview_loads_the_panel_by_url(client, org):
    client.force_login(org.viewer)
    body = client.get(reverse("dashboards:overview")).content.decode()
    assert f'hx-get="{PANEL}"' in body


def _annotations(client, user, **params):
    client.force_login(user)
    return client.get(ANNOTATIONS, params)


RANGE = {"from": "2026-03-02T08:00", "to": "2026-03-02T12:00", "tz": "UTC"}


def test_annotations_of_a_division_in_the_range(client, org, tickets):
    calm, urgent, late = tickets
    response = _annotations(client, org.viewer, division="workflow-engineering", **RANGE)

    assert response.status_code == 200
    rows = response.json()
    assert [row["key"] for row in rows] == [calm.key, urgent.key]  # late involves tools and runtime only
    assert rows[0] == {
        "number": calm.number,
        "key": calm.key,
        "title": "Calm conflict",
        "at": "2026-03-02T09:00:00+00:00",
        "state": "open",
        "priority": "P3",
        "breached": True,  # its day to acknowledge is long past by the real clock
        "url": reverse("escalations:detail", args=[calm.number]),
    }
    assert [row["key"] for row in _annotations(client, org.viewer, division="tool-ecosystem", **RANGE).json()] == [
        late.key
    ]


def test_annotations_are_written_in_the_charts_zone_and_range(client, org, tickets):
    calm, urgent, _ = tickets
    rows = _annotations(
        client, org.viewer, division="novacore-runtime", **{"from": "2026-03-02T10:30", "to": "2026-03-02T10:55"}
    ).json()
    assert rows == []
    rows = _annotations(
        client,
        org.viewer,
        division="novacore-runtime",
        **{"from": "2026-03-02T10:00", "to": "2026-03-02T10:30", "tz": "Europe/Berlin"},
    ).json()
    assert [(row["key"], row["at"]) for row in rows] == [(calm.key, "2026-03-02T10:00:00+01:00")]


def test_annotations_of_a_metric_and_of_an_agent(client, org, tickets):
    calm, urgent, late = tickets
    assert [row["key"] for row in _annotations(client, org.viewer, metric="error_rate_pct", **RANGE).json()] == [
        calm.key
    ]
    # A division filter and a metric filter both narrow.
    assert _annotations(client, org.viewer, metric="error_rate_pct", division="tool-ecosystem", **RANGE).json() == []
    agent = AgentFactory(division=org.tools)
    assert [row["key"] for row in _annotations(client, org.viewer, agent=agent.handle, **RANGE).json()] == [late.key]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"range": "24h"}, "division"),
        ({"range": "soon", "division": "x"}, "range"),
        ({"from": "yesterday", "division": "x"}, "from"),
        ({"range": "24h", "division": "x", "colour": "red"}, "colour"),
        ({"range": "24h", "division": "x", "tz": "Mars/Olympus"}, "tz"),
    ],
)
def test_bad_annotation_parameters_are_a_400_problem(client, org, params, field):
    response = _annotations(client, org.viewer, **params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in {error["field"] for error in response.json()["errors"]}
