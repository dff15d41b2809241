"""A division token reads its own division's registry entries (agents/apis with agents.selectors' division_id):
its domain, its division, its agents; everything else is a 404, as if it did not exist."""

from agents.models import Agent
from tests.agents.apis import handles, url
from tests.helpers import assert_problem

RUNTIME_AGENTS = ["ta_00001", "ta_00002", "ta_00008"]


def test_lists_hold_the_tokens_division_only(token_client, registry):
    domains = token_client.get(url("domain-list")).json()
    divisions = token_client.get(url("division-list")).json()

    assert [domain["slug"] for domain in domains] == ["novaops"]
    assert [division["slug"] for division in divisions] == ["novacore-runtime"]
    assert handles(token_client.get(url("agent-list"))) == RUNTIME_AGENTS


def test_filters_apply_within_the_division(token_client, registry):
    assert handles(token_client.get(url("agent-list"), {"lifecycle_state": "paused"})) == ["ta_00002"]
    # Another division's slug is a valid filter that matches nothing the token may see.
    assert handles(token_client.get(url("agent-list"), {"division": "tool-ecosystem"})) == []
    assert token_client.get(url("division-list"), {"domain": "orchops"}).json() == []
    # An unknown slug is still a 400 naming the parameter.
    assert_problem(token_client.get(url("agent-list"), {"division": "nope"}), 400, "No division with slug 'nope'.")


def test_details_inside_the_division_answer(token_client, registry):
    agent = token_client.get(url("agent-detail", handle="ta_00001")).json()
    division = token_client.get(url("division-detail", slug="novacore-runtime")).json()
    domain = token_client.get(url("domain-detail", slug="novaops")).json()

    assert (agent["handle"], agent["leads_division"]) == (
        "ta_00001",
        {"slug": "novacore-runtime", "name": "NovaCore Runtime"},
    )
    assert (division["agent_count"], division["lead"]["handle"]) == (3, "ta_00001")
    assert domain["slug"] == "novaops"


def test_details_outside_the_division_are_404(token_client, registry):
    assert_problem(token_client.get(url("agent-detail", handle="ta_00010")), 404, "No agent with handle ta_00010.")
    assert_problem(token_client.get(url("agent-detail", handle="ta_00151")), 404, "No agent with handle ta_00151.")
    assert_problem(
        token_client.get(url("division-detail", slug="tool-ecosystem")), 404, "No division with slug 'tool-ecosystem'."
    )
    assert_problem(token_client.get(url("domain-detail", slug="orchops")), 404, "No domain with slug 'orchops'.")


def test_writes_are_403_and_change_nothing(token_client, registry):
    created = token_client.post(
        url("agent-list"), {"handle": "ta_00300", "callsign": "N", "division": "novacore-runtime"}, format="json"
    )
    changed = token_client.patch(url("agent-detail", handle="ta_00001"), {"callsign": "Renamed"}, format="json")

    for response in (created, changed):
        assert_problem(response, 403, "A division token only reads; this needs a person signed in with a NovaOps role.")
    assert not Agent.objects.filter(handle="ta_00300").exists()
    assert Agent.objects.get(handle="ta_00001").callsign == "Atlas"


def test_the_list_costs_the_same_queries_as_for_a_person(token_client, registry, django_assert_max_num_queries):
    # Token lookup and its last-used stamp, then count and page, as for a session.
    with django_assert_max_num_queries(5):
        assert token_client.get(url("agent-list")).status_code == 200
