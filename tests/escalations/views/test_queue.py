"""The queue and the raise form (escalations/views/queue.py): who sees what, filters and sorting in the URL, bad
values as form errors, the empty state, the query budget; raising with field errors and a redirect to the ticket."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from escalations.models import Escalation
from metrics.models import Metric
from tests.factories import AgentFactory

QUEUE = reverse("escalations:queue")
RAISE = reverse("escalations:raise")


def _keys(response) -> list[str]:
    """The ticket keys listed in the queue, in order."""
    return re.findall(r'class="app-handle" href="/escalations/\d+/">(ESC-\d+)<', response.content.decode())


# --- who gets what -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "raise_button"),
    [("core", True), ("runtime-lead", True), ("runtime-member", True), ("viewer", False)],
)
def test_queue_renders_for_each_role(page_as, raise_ticket, username, raise_button):
    ticket = raise_ticket()

    response = page_as(username).get(QUEUE)

    assert response.status_code == 200
    assert _keys(response) == [ticket.key]
    assertContains(response, 'aria-current="page">Escalations</a>')
    (assertContains if raise_button else assertNotContains)(response, f'href="{RAISE}">Raise an escalation')


@pytest.mark.parametrize("url", [QUEUE, RAISE, reverse("escalations:sla")])
def test_anonymous_goes_to_sign_in(page_as, url):
    response = page_as("anonymous").get(url)

    assertRedirects(response, f"{reverse('login')}?next={url}", fetch_redirect_response=False)


def test_a_row_shows_the_ticket_at_a_glance(page_as, raise_ticket):
    raise_ticket(title="GPU hours for the nightly retrain", priority="P1")

    response = page_as("core").get(QUEUE)

    row = response.content.decode().split("<tbody>")[1]
    for text in [
        "GPU hours for the nightly retrain",
        "Resource conflict",
        "esc-priority--p1",
        ">Open<",
        "NovaCore Runtime",
        "Workflow Engineering",
        "runtime-lead",
        "workflow-lead",
        "left",
    ]:
        assert text in row


def test_a_breached_ticket_says_so(page_as, raise_ticket):
    raise_ticket(at=timezone.now() - timedelta(days=5))

    response = page_as("core").get(QUEUE)

    assertContains(response, "<strong>Breached</strong>")


# --- filters and sorting -------------------------------------------------------------------------------------------


def test_filters_in_the_url_narrow_the_queue(page_as, raise_ticket, org):
    conflict = raise_ticket(priority="P1")
    friction = raise_ticket(kind="friction", divisions=[org.tools], priority="P3")
    strategic = raise_ticket(kind="strategic_alignment", priority="P2")
    client = page_as("core")

    assert _keys(client.get(QUEUE, {"kind": "friction"})) == [friction.key]
    assert _keys(client.get(QUEUE, {"kind": ["friction", "strategic_alignment"]})) == [strategic.key, friction.key]
    assert _keys(client.get(QUEUE, {"priority": "P1"})) == [conflict.key]
    assert _keys(client.get(QUEUE, {"level": "2"})) == [friction.key]
    assert _keys(client.get(QUEUE, {"division": "tool-ecosystem"})) == [friction.key]
    assert _keys(client.get(QUEUE, {"assignee": "workflow-lead"})) == [strategic.key, conflict.key]
    assert _keys(client.get(QUEUE, {"state": "active"})) == [strategic.key, friction.key, conflict.key]
    assert _keys(client.get(QUEUE, {"breached": "true"})) == []
    assert _keys(client.get(QUEUE, {"sort": "priority"})) == [conflict.key, strategic.key, friction.key]
    assert _keys(client.get(QUEUE, {"sort": "oldest"})) == [conflict.key, friction.key, strategic.key]


def test_mine_is_what_i_raised_or_hold(page_as, raise_ticket, org):
    mine = raise_ticket()
    raise_ticket(by=org.tools_member, raised_division=org.tools, divisions=[org.tools])

    response = page_as("runtime-member").get(QUEUE, {"mine": "true"})

    assert _keys(response) == [mine.key]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"kind": "outage"}, "kind", "Kind must be one of"),
        ({"state": "done"}, "state", "State must be one of"),
        ({"priority": "P9"}, "priority", "Priority must be one of"),
        ({"level": "7"}, "level", "Level must be one of"),
        ({"division": "nowhere"}, "division", "No division with slug"),
        ({"assignee": "nobody-here"}, "assignee", "No person with username"),
        ({"sort": "random"}, "sort", "Sort must be one of"),
    ],
)
def test_a_bad_value_is_a_form_error_not_an_empty_queue(page_as, raise_ticket, params, field, message):
    raise_ticket()

    response = page_as("core").get(QUEUE, params)

    assert response.status_code == 400
    assertContains(response, "Check the filters", status_code=400)
    assertContains(response, message, status_code=400)
    assertContains(response, f'href="#id_{field}"', status_code=400)
    assert _keys(response) == []


def test_empty_state_offers_raising(page_as, db, org):
    response = page_as("runtime-member").get(QUEUE)

    assertContains(response, "No escalations match")
    assertContains(response, f'href="{RAISE}"')


def test_empty_state_after_filters(page_as, raise_ticket):
    raise_ticket()

    response = page_as("viewer").get(QUEUE, {"kind": "friction"})

    assertContains(response, "No escalations match")
    assertContains(response, "Try other filters")


def test_pages_of_25_and_a_bad_page_is_404(page_as, raise_ticket):
    for _ in range(27):
        raise_ticket()
    client = page_as("core")

    assert len(_keys(client.get(QUEUE))) == 25
    assert len(_keys(client.get(QUEUE, {"page": "2"}))) == 2
    assert client.get(QUEUE, {"page": "9"}).status_code == 404


def test_queue_query_budget_does_not_grow_with_tickets(page_as, raise_ticket, django_assert_max_num_queries):
    for _ in range(3):
        raise_ticket()
    client = page_as("core")
    client.get(QUEUE)  # the session's first use
    with django_assert_max_num_queries(12) as few:
        client.get(QUEUE)
    for _ in range(20):
        raise_ticket()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(QUEUE)
    assert len(_keys(response)) == 23


# --- raising -------------------------------------------------------------------------------------------------------


def test_viewer_may_not_raise(page_as, org):
    response = page_as("viewer").get(RAISE)

    assert response.status_code == 403


def test_the_form_defaults_to_the_persons_division(page_as, org):
    response = page_as("runtime-member").get(RAISE)

    html = response.content.decode()
    assert re.search(r'<option value="novacore-runtime" selected>', html)
    # A member raises for their own division only; a Tier 1 lead for any.
    raising = html.split('name="raised_division"')[1].split("</select>")[0]
    assert "workflow-engineering" not in raising
    lead_raising = page_as("core").get(RAISE).content.decode().split('name="raised_division"')[1].split("</select>")[0]
    assert "workflow-engineering" in lead_raising


def _resource_conflict(**changes) -> dict:
    data = {
        "kind": "resource_conflict",
        "title": "GPU hours for the nightly retrain",
        "description": "Both need the **cluster** tonight.",
        "priority": "P2",
        "raised_division": "novacore-runtime",
        "divisions": ["workflow-engineering"],
        "agents": "",
        "resource_name": "GPU hours",
        "resource_unit": "h",
        "resource_capacity": "100",
        "claims-TOTAL_FORMS": "2",
        "claims-INITIAL_FORMS": "0",
        "claims-MIN_NUM_FORMS": "0",
        "claims-MAX_NUM_FORMS": "20",
        "claims-0-division": "novacore-runtime",
        "claims-0-amount": "60",
        "claims-0-priority": "P2",
        "claims-0-justification": "Nightly retrain.",
        "claims-0-gains": "Fresh models",
        "claims-0-gives": "Idle hours at the weekend",
        "claims-1-division": "workflow-engineering",
        "claims-1-amount": "80",
        "claims-1-priority": "P3",
        "claims-1-justification": "Backfill.",
    }
    data.update(changes)
    return data


def test_raising_a_resource_conflict_goes_to_its_page(page_as, org):
    agent = AgentFactory(division=org.runtime)
    metric = Metric.objects.first()
    data = _resource_conflict(agents=agent.handle, metrics=[metric.key])

    response = page_as("runtime-member").post(RAISE, data)

    escalation = Escalation.objects.get()
    assertRedirects(response, reverse("escalations:detail", args=[escalation.number]), fetch_redirect_response=False)
    assert escalation.raised_by == org.runtime_member
    assert escalation.resource_capacity == Decimal(100)
    claims = {claim.division.slug: claim for claim in escalation.claims.all()}
    assert claims["novacore-runtime"].amount == Decimal(60)
    assert claims["novacore-runtime"].gives == "Idle hours at the weekend"
    assert claims["workflow-engineering"].priority == "P3"
    assert list(escalation.agents.all()) == [agent]
    assert list(escalation.metrics.all()) == [metric]
    assert {user.username for user in escalation.assignees.all()} == {"runtime-lead", "workflow-lead"}


def test_friction_ignores_the_claim_rows(page_as, org):
    data = _resource_conflict(kind="friction", resource_name="", resource_capacity="", **{"claims-0-amount": "x"})

    response = page_as("runtime-member").post(RAISE, data)

    escalation = Escalation.objects.get()
    assert response.status_code == 302
    assert escalation.level == 2
    assert escalation.claims.count() == 0
    assert escalation.resource_name == ""


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"divisions": ["nowhere"]}, "divisions", "Select a valid choice."),
        ({"resource_capacity": ""}, "resource_capacity", "Give its capacity"),
        ({"agents": "ta_99999"}, "agents", "No agent with handle ta_99999."),
        ({"raised_division": "workflow-engineering"}, "raised_division", "Select a valid choice."),
        ({"claims-1-amount": "500"}, "claims-1-amount", "At most the capacity (100)."),
        ({"claims-1-division": "novacore-runtime"}, None, "One claim per division"),
    ],
)
def test_field_errors_next_to_fields(page_as, org, changes, field, message):
    response = page_as("runtime-member").post(RAISE, _resource_conflict(**changes))

    assert response.status_code == 400
    assert Escalation.objects.count() == 0
    assertContains(response, "The escalation was not raised", status_code=400)
    html = response.content.decode()
    if field:
        error = re.search(rf'id="id_{field}_error">(.*?)</div>', html, re.S)
        assert error and message in error.group(1)
        assert f'name="{field}"' in html and "is-invalid" in html
    else:
        assert message in html
