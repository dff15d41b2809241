"""The divisions API (agents/apis/divisions.py)."""

import pytest

from tests.agents.apis import url
from tests.helpers import assert_problem


def test_unknown_division_is_404_naming_the_slug(api_as, registry):
    assert_problem(api_as("lead").get(url("division-detail", slug="nope")), 404, "No division with slug 'nope'.")


def test_division_list_filters_by_domain(api_as, registry):
    client = api_as("member")

    every = client.get(url("division-list")).json()
    orchops = client.get(url("division-list"), {"domain": "orchops"}).json()
    blank = client.get(url("division-list"), {"domain": ""}).json()

    assert [d["slug"] for d in every] == ["novacore-runtime", "tool-ecosystem", "workflow-engineering"]
    assert [d["slug"] for d in orchops] == ["workflow-engineering"]
    assert blank == every


def test_division_list_with_unknown_domain_is_400(api_as, registry):
    body = assert_problem(
        api_as("member").get(url("division-list"), {"domain": "nope"}), 400, "No domain with slug 'nope'."
    )
    assert body["errors"] == [{"field": "domain", "message": "No domain with slug 'nope'."}]


def test_division_detail_shows_domain_lead_and_counts(api_as, registry):
    body = api_as("viewer").get(url("division-detail", slug="novacore-runtime")).json()

    assert body == {
        "slug": "novacore-runtime",
        "name": "NovaCore Runtime",
        "tier": 3,
        "description": "",
        "domain": {"slug": "novaops", "name": "NovaOps"},
        "lead": {"handle": "ta_00001", "callsign": "Atlas"},
        "agent_count": 3,
        "active_count": 2,
    }


# --- query budget: the same number of queries for 5 and for 60 agents ---


@pytest.mark.parametrize(
    ("name", "params", "budget"),
    [
        ("division-list", {}, 1),
        ("division-list", {"domain": "novaops"}, 2),
    ],
)
def test_list_query_budget(api_as, sized_registry, django_assert_max_num_queries, name, params, budget):
    with django_assert_max_num_queries(budget):
        response = api_as("viewer").get(url(name), params)

    assert response.status_code == 200
