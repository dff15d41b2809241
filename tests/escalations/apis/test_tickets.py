"""The tickets API (escalations/apis/tickets.py): list and filters with a token's scope, raising (with its
defaults and refusals), reading with the timeline, editing with a version, commenting."""

import json

import pytest
from django.urls import reverse

from escalations.models import Comment, Escalation
from tests.escalations.apis import numbers, url
from tests.factories import AgentFactory
from tests.helpers import PROBLEM, assert_problem

RESOURCE_CONFLICT = {
    "kind": "resource_conflict",
    "title": "GPU hours for March",
    "description": "Both planned the same hours.",
    "priority": "P2",
    "divisions": ["workflow-engineering"],
    "resource": {"name": "GPU hours", "unit": "h", "capacity": "400"},
    "claims": [
        {"division": "novacore-runtime", "amount": "300", "priority": "P1", "justification": "Release training."},
        {"division": "workflow-engineering", "amount": 200, "justification": "Planner tuning."},
    ],
}
FRICTION = {
    "kind": "friction",
    "title": "Handoffs dropped",
    "description": "Workflow drops our handoffs.",
    "priority": "P3",
    "divisions": ["workflow-engineering"],
}


def _errors(response) -> dict[str, str]:
    return {error["field"]: error["message"] for error in response.json()["errors"]}


# --- raise ---


def test_a_member_raises_a_resource_conflict_for_their_division(api_of, org):
    response = api_of("runtime_member").post(url("escalation-list"), RESOURCE_CONFLICT, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["key"] == f"ESC-{body['number']}"
    assert response["Location"] == url("escalation-detail", number=body["number"])
    assert body["url"] == reverse("escalations:detail", kwargs={"number": body["number"]})
    assert (body["state"], body["level"], body["version"]) == ("open", 1, 1)
    assert body["raised_division"]["slug"] == "novacore-runtime"
    assert body["raised_by"]["username"] == "runtime-member"
    assert {division["slug"] for division in body["divisions"]} == {"novacore-runtime", "workflow-engineering"}
    assert {person["username"] for person in body["assignees"]} == {"runtime-lead", "workflow-lead"}
    assert [clock["label"] for clock in body["clocks"]] == ["Acknowledge", "Resolve"]
    assert body["resource"] == {"name": "GPU hours", "unit": "h", "capacity": "400.000"}
    assert [(claim["division"]["slug"], claim["amount"]) for claim in body["claims"]] == [
        ("novacore-runtime", "300.000"),
        ("workflow-engineering", "200.000"),
    ]
    assert body["timeline"][0]["action"] == "raise"
    assert "escalate" in body["transitions"]


def test_a_friction_starts_at_level_2_with_the_tier1_leads(api_of):
    body = api_of("runtime_member").post(url("escalation-list"), FRICTION, format="json").json()

    assert body["level"] == 2
    assert {person["username"] for person in body["assignees"]} == {"core", "meridian"}
    assert body["resource"] is None


def test_a_division_token_raises_for_its_own_division_only(token_of, org):
    response = token_of().post(url("escalation-list"), FRICTION, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["raised_by"], body["raised_token_name"]) == (None, "collector-1")
    assert body["raised_division"]["slug"] == "novacore-runtime"
    refused = token_of().post(url("escalation-list"), {**FRICTION, "raised_division": "tool-ecosystem"}, format="json")
    assert_problem(refused, 403, "You cannot raise an escalation for Tool Ecosystem: only its people can.")


def test_a_tier1_lead_names_the_raising_division(api_of):
    missing = api_of("core").post(url("escalation-list"), FRICTION, format="json")
    assert_problem(missing, 400, "Name the raising division: you belong to none.")
    assert _errors(missing) == {"raised_division": "Required: you belong to no division."}

    named = api_of("core").post(
        url("escalation-list"), {**FRICTION, "raised_division": "tool-ecosystem"}, format="json"
    )
    assert named.status_code == 201, named.content
    assert named.json()["raised_division"]["slug"] == "tool-ecosystem"


def test_a_division_lead_raises_for_the_division_they_lead(api_of):
    body = (
        api_of("workflow_lead")
        .post(url("escalation-list"), {**FRICTION, "divisions": ["tool-ecosystem"]}, format="json")
        .json()
    )

    assert body["raised_division"]["slug"] == "workflow-engineering"


def test_a_viewer_and_another_divisions_member_may_not_raise(api_of):
    viewer = api_of("viewer").post(
        url("escalation-list"), {**FRICTION, "raised_division": "novacore-runtime"}, format="json"
    )
    assert_problem(viewer, 403, "You cannot raise an escalation for NovaCore Runtime: only its people can.")
    other = api_of("tools_member").post(
        url("escalation-list"), {**FRICTION, "raised_division": "novacore-runtime"}, format="json"
    )
    assert_problem(other, 403)
    assert not Escalation.objects.exists()


def test_links_to_agents_and_metrics_by_handle_and_key(api_of, org):
    agent = AgentFactory(division=org.workflow)
    body = (
        api_of("runtime_member")
        .post(
            url("escalation-list"), {**FRICTION, "agents": [agent.handle], "metrics": ["latency_p95_ms"]}, format="json"
        )
        .json()
    )

    assert [linked["handle"] for linked in body["agents"]] == [agent.handle]
    assert [linked["key"] for linked in body["metrics"]] == ["latency_p95_ms"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"divisions": ["nowhere"]}, "divisions", "No division with slug 'nowhere'."),
        ({"divisions": []}, "divisions", "Ensure this field has at least 1 elements."),
        (
            {"kind": "outage"},
            "kind",
            "Kind must be one of friction, resource_conflict, strategic_alignment; not 'outage'.",
        ),
        ({"priority": "P9"}, "priority", "Priority must be one of P1, P2, P3, P4; not 'P9'."),
        ({"title": "x" * 201}, "title", "Ensure this field has no more than 200 characters."),
        ({"title": 7}, "title", "Not a valid string."),
        ({"agents": ["ta_99999"]}, "agents", "No agent with handle 'ta_99999'."),
        ({"metrics": ["no_such_metric"]}, "metrics", "No metric with key 'no_such_metric'."),
        ({"raised_division": "nowhere"}, "raised_division", "No division with slug 'nowhere'."),
        ({"colour": "red"}, "colour", None),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_of, change, field, message):
    response = api_of("runtime_member").post(url("escalation-list"), {**FRICTION, **change}, format="json")

    body = assert_problem(response, 400)
    assert field in {error["field"] for error in body["errors"]}
    if message is not None:
        assert message in {error["message"] for error in body["errors"]}


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ({"amount": "500"}, "At most the capacity, 400."),
        ({"amount": "-1"}, "Ensure this value is greater than or equal to 0.001."),
        ({"amount": "0"}, "Ensure this value is greater than or equal to 0.001."),
        ({"amount": "NaN"}, "A valid number is required."),
        ({"amount": "Infinity"}, "A valid number is required."),
        ({"amount": "1.0001"}, "Ensure that there are no more than 3 decimal places."),
        ({"amount": True}, "A valid number is required."),
    ],
)
def test_a_bad_claim_is_a_400_on_its_amount(api_of, claim, message):
    claims = [{**RESOURCE_CONFLICT["claims"][0], **claim}]
    response = api_of("runtime_member").post(
        url("escalation-list"), {**RESOURCE_CONFLICT, "claims": claims}, format="json"
    )

    body = assert_problem(response, 400)
    assert {"field": "claims.amount", "index": 0, "message": message} in body["errors"]


def test_a_resource_conflict_without_a_resource_is_refused_by_the_service(api_of):
    body = {key: value for key, value in RESOURCE_CONFLICT.items() if key not in ("resource", "claims")}
    response = api_of("runtime_member").post(url("escalation-list"), body, format="json")

    assert_problem(response, 400, "The escalation cannot be raised as given.")


@pytest.mark.parametrize("raw", ['{"kind": ', '{"title": NaN}', '{"amount": Infinity}', "[1, 2]", '"text"', "null"])
def test_malformed_bodies_are_400_problems(api_of, raw):
    response = api_of("runtime_member").post(url("escalation-list"), raw, content_type="application/json")

    assert_problem(response, 400)


def test_a_body_that_is_not_json_is_a_415(api_of):
    response = api_of("runtime_member").post(url("escalation-list"), "kind=friction", content_type="text/plain")

    assert_problem(response, 415)


# --- who reads ---


def test_anonymous_gets_401_and_no_role_403(org):
    from rest_framework.test import APIClient

    from tests.escalations.apis import client_of
    from tests.factories import UserFactory

    anonymous = APIClient().get(url("escalation-list"))
    assert_problem(anonymous, 401)
    assert anonymous["WWW-Authenticate"]
    assert_problem(client_of(UserFactory()).get(url("escalation-list")), 403)


def test_a_division_token_reads_only_its_divisions_tickets(token_of, raise_ticket, org):
    ours = raise_ticket("friction")  # runtime raised it
    involving_us = raise_ticket(
        "friction", by=org.workflow_member, raised_division=org.workflow, divisions=[org.runtime]
    )
    elsewhere = raise_ticket("friction", by=org.tools_member, raised_division=org.tools, divisions=[org.workflow])
    client = token_of()

    assert sorted(numbers(client.get(url("escalation-list")))) == sorted([ours.number, involving_us.number])
    assert client.get(url("escalation-detail", number=ours.number)).status_code == 200
    assert_problem(
        client.get(url("escalation-detail", number=elsewhere.number)), 404, f"No escalation ESC-{elsewhere.number}."
    )
    # Writing to a ticket it cannot see is the same 404.
    assert_problem(client.post(url("escalation-comments", number=elsewhere.number), {"body": "hi"}, format="json"), 404)


def test_a_viewer_reads_everything(api_of, raise_ticket, org):
    first = raise_ticket("friction")
    second = raise_ticket("strategic_alignment", by=org.tools_member, raised_division=org.tools)

    assert sorted(numbers(api_of("viewer").get(url("escalation-list")))) == sorted([first.number, second.number])


def test_an_unknown_number_is_a_404_problem(api_of, org):
    assert_problem(api_of("core").get(url("escalation-detail", number=999)), 404, "No escalation ESC-999.")
    assert_problem(api_of("core").get("/api/v1/escalations/99999999999"), 404)
    assert_problem(api_of("core").post(url("escalation-acknowledge", number=999)), 404)


def test_both_path_forms_answer(api_of, raise_ticket):
    ticket = raise_ticket("friction")

    assert api_of("viewer").get("/api/v1/escalations/").status_code == 200
    assert api_of("viewer").get(f"/api/v1/escalations/{ticket.number}/").status_code == 200


# --- the list's filters ---


def test_filters_combine_and_sort(api_of, raise_ticket, org):
    friction = raise_ticket("friction", priority="P1")
    conflict = raise_ticket("resource_conflict", priority="P3")
    strategic = raise_ticket(
        "strategic_alignment", by=org.tools_member, raised_division=org.tools, divisions=[org.tools]
    )
    client = api_of("viewer")

    assert numbers(client.get(url("escalation-list"), {"kind": "friction"})) == [friction.number]
    assert sorted(numbers(client.get(url("escalation-list"), {"kind": ["friction", "resource_conflict"]}))) == sorted(
        [friction.number, conflict.number]
    )
    assert numbers(client.get(url("escalation-list"), {"level": 2})) == [friction.number]
    assert numbers(client.get(url("escalation-list"), {"division": "tool-ecosystem"})) == [strategic.number]
    assert numbers(client.get(url("escalation-list"), {"assignee": "core"})) == [friction.number]
    assert numbers(client.get(url("escalation-list"), {"sort": "priority", "state": "active"}))[0] == friction.number
    assert numbers(client.get(url("escalation-list"), {"breached": "true"})) == []
    assert numbers(api_of("runtime_member").get(url("escalation-list"), {"mine": "true"})) == sorted(
        [friction.number, conflict.number], reverse=True
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "outage"}, "kind"),
        ({"state": "lost"}, "state"),
        ({"level": "4"}, "level"),
        ({"division": "nowhere"}, "division"),
        ({"assignee": "nobody"}, "assignee"),
        ({"sort": "random"}, "sort"),
        ({"breached": "ture"}, "breached"),
        ({"mine": "1"}, "mine"),
        ({"divison": "tool-ecosystem"}, "divison"),
        ({"page": "0"}, "page"),
        ({"division": "a\x00b"}, "division"),
    ],
)
def test_bad_filters_are_400_problems_naming_the_parameter(api_of, org, params, field):
    body = assert_problem(api_of("viewer").get(url("escalation-list"), params), 400)

    assert [error["field"] for error in body["errors"]] == [field]


def test_the_list_reads_in_a_fixed_number_of_queries(api_of, raise_ticket, org, django_assert_max_num_queries):
    for _ in range(6):
        raise_ticket("resource_conflict")
        raise_ticket("friction", by=org.tools_member, raised_division=org.tools, divisions=[org.workflow])
    client = api_of("viewer")

    # Person, count, page, involved divisions, assignees (and nothing per ticket).
    with django_assert_max_num_queries(6):
        response = client.get(url("escalation-list"), {"page_size": 50})
    assert response.json()["count"] == 12


def test_the_detail_reads_in_a_bounded_number_of_queries(api_of, raise_ticket, org, django_assert_max_num_queries):
    ticket = raise_ticket("resource_conflict")
    client = api_of("core")
    client.post(url("escalation-comments", number=ticket.number), {"body": "On it."}, format="json")

    with django_assert_max_num_queries(30):
        response = client.get(url("escalation-detail", number=ticket.number))
    assert response.status_code == 200


# --- edit ---


def test_a_raiser_edits_with_the_version_they_read(api_of, raise_ticket, org):
    ticket = raise_ticket("friction")
    client = api_of("runtime_member")

    response = client.patch(
        url("escalation-detail", number=ticket.number),
        {"version": 1, "title": "Handoffs dropped twice", "priority": "P1"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["priority"], body["version"]) == ("Handoffs dropped twice", "P1", 2)
    stale = client.patch(
        url("escalation-detail", number=ticket.number), {"version": 1, "title": "Again"}, format="json"
    )
    problem = assert_problem(stale, 409)
    assert problem["version"] == 2
    assert Escalation.objects.get(pk=ticket.pk).title == "Handoffs dropped twice"


def test_an_edit_needs_a_version_and_a_change(api_of, raise_ticket):
    ticket = raise_ticket("friction")
    client = api_of("runtime_member")

    no_version = client.patch(url("escalation-detail", number=ticket.number), {"title": "New"}, format="json")
    assert "version" in _errors(no_version)
    nothing = client.patch(url("escalation-detail", number=ticket.number), {"version": 1}, format="json")
    assert_problem(nothing, 400)
    wrong_type = client.patch(
        url("escalation-detail", number=ticket.number), {"version": "1", "title": "x"}, format="json"
    )
    assert _errors(wrong_type) == {"version": "A valid integer is required."}
    kind = client.patch(
        url("escalation-detail", number=ticket.number), {"version": 1, "kind": "friction"}, format="json"
    )
    assert "kind" in _errors(kind)


def test_an_uninvolved_member_and_a_token_may_not_edit(api_of, token_of, raise_ticket):
    ticket = raise_ticket("friction")

    assert_problem(
        api_of("tools_member").patch(
            url("escalation-detail", number=ticket.number), {"version": 1, "title": "x"}, format="json"
        ),
        403,
        f"You cannot edit ESC-{ticket.number}: only the raising division, its assignees or a Tier 1 lead can.",
    )
    refused = token_of().patch(
        url("escalation-detail", number=ticket.number), {"version": 1, "title": "x"}, format="json"
    )
    assert_problem(refused, 403)


# --- comments ---


def test_people_and_tokens_of_the_divisions_comment(api_of, token_of, raise_ticket, org):
    ticket = raise_ticket("friction")

    by_person = api_of("workflow_member").post(
        url("escalation-comments", number=ticket.number), {"body": "**Seen**"}, format="json"
    )
    by_token = token_of().post(
        url("escalation-comments", number=ticket.number), {"body": "Logs attached."}, format="json"
    )

    assert by_person.status_code == 201, by_person.content
    assert by_person.json()["author"]["username"] == "workflow-member"
    assert by_token.status_code == 201, by_token.content
    assert (by_token.json()["author"], by_token.json()["token_name"]) == (None, "collector-1")
    timeline = api_of("viewer").get(url("escalation-detail", number=ticket.number)).json()["timeline"]
    assert [entry["comment"]["body"] for entry in timeline if entry["comment"]] == ["**Seen**", "Logs attached."]


def test_comments_refused_say_why(api_of, raise_ticket):
    ticket = raise_ticket("friction")

    assert_problem(
        api_of("viewer").post(url("escalation-comments", number=ticket.number), {"body": "hi"}, format="json"), 403
    )
    assert "body" in _errors(
        api_of("core").post(url("escalation-comments", number=ticket.number), {"body": ""}, format="json")
    )
    too_long = api_of("core").post(
        url("escalation-comments", number=ticket.number), {"body": "x" * 20_001}, format="json"
    )
    assert_problem(too_long, 400)
    assert not Comment.objects.exists()


def test_problems_are_json_with_their_content_type(api_of, raise_ticket):
    ticket = raise_ticket("friction")

    response = api_of("viewer").post(url("escalation-acknowledge", number=ticket.number))

    assert response["Content-Type"] == PROBLEM
    assert json.loads(response.content)["status"] == 403


def test_the_list_holds_each_ticket_once_with_and_without_joining_filters(api_of, raise_ticket, org):
    """DISTINCT only for the filters that join divisions or assignees: a ticket with several of each is listed once
    either way, and the count says so."""
    ticket = raise_ticket("friction", divisions=[org.workflow, org.tools])  # level 2: a lead per domain
    client = api_of("viewer")

    for params in ({}, {"state": "active"}, {"division": "tool-ecosystem"}, {"assignee": "core"}, {"level": 2}):
        response = client.get(url("escalation-list"), params)
        assert numbers(response) == [ticket.number], params
        assert response.json()["count"] == 1, params
    assert numbers(api_of("runtime_member").get(url("escalation-list"), {"mine": "true"})) == [ticket.number]
