"""AgentFilter, shared by the agent list page and the agents API."""

import pytest
from django.urls import reverse

from agents.filters import AgentFilter
from agents.selectors import agent_list


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"division": "nope"}, "division", "No division with slug 'nope'."),
        ({"domain": "nope"}, "domain", "No domain with slug 'nope'."),
        ({"tier": "7"}, "tier", "Tier must be 1, 2 or 3, not '7'."),
        (
            {"lifecycle_state": "sleeping"},
            "lifecycle_state",
            "Lifecycle state must be one of provisioning, deployed, active, degraded, paused, retired; not 'sleeping'.",
        ),
    ],
)
def test_the_page_and_the_api_refuse_a_bad_filter_in_the_same_words(client_as, api_as, params, field, message):
    filterset = AgentFilter(params, queryset=agent_list())
    api = api_as("viewer").get(reverse("api:agents:agent-list"), params).json()
    page = client_as("viewer").get(reverse("agents:agent_list"), params)

    assert not filterset.is_valid()
    assert filterset.form.errors[field] == [message]
    assert api["errors"] == [{"field": field, "message": message}]
    assert page.context["form"].errors[field] == [message]
