"""The domains API (agents/apis/domains.py)."""

import pytest

from tests.agents.apis import url
from tests.factories import DomainFactory
from tests.helpers import assert_problem


def test_domain_list_and_detail_show_lead_and_counts(api_as, registry):
    response = api_as("viewer").get(url("domain-list"))

    assert response.status_code == 200
    assert response.json() == [
        {
            "slug": "novaops",
            "name": "NovaOps",
            "description": "",
            "lead": {"handle": "ta_00008", "callsign": "Core"},
            "division_count": 2,
            "agent_count": 5,
        },
        {
            "slug": "orchops",
            "name": "OrchOps",
            "description": "",
            "lead": {"handle": "ta_00151", "callsign": "Meridian"},
            "division_count": 1,
            "agent_count": 2,
        },
    ]
    detail = api_as("viewer").get(url("domain-detail", slug="orchops"))
    assert detail.json() == response.json()[1]


def test_domain_without_lead_or_divisions(api_as, cast):
    DomainFactory(name="Empty", slug="empty")

    body = api_as("viewer").get(url("domain-detail", slug="empty")).json()

    assert body["lead"] is None
    assert (body["division_count"], body["agent_count"]) == (0, 0)


def test_unknown_domain_is_404_naming_the_slug(api_as, registry):
    assert_problem(api_as("lead").get(url("domain-detail", slug="nope")), 404, "No domain with slug 'nope'.")


# --- query budget: the same number of queries for 5 and for 60 agents ---


@pytest.mark.parametrize(
    ("name", "params", "budget"),
    [
        ("domain-list", {}, 1),
    ],
)
def test_list_query_budget(api_as, sized_registry, django_assert_max_num_queries, name, params, budget):
    with django_assert_max_num_queries(budget):
        response = api_as("viewer").get(url(name), params)

    assert response.status_code == 200
