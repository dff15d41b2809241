import pytest
from django.core.exceptions import ValidationError

from agents.services.agents import agent_update
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_agent_update_validates_and_saves():
    agent = AgentFactory(callsign="Old")
    agent_update(agent=agent, callsign="New", tier=2)
    agent.refresh_from_db()
    assert (agent.callsign, agent.tier) == ("New", 2)
    with pytest.raises(ValidationError):
        agent_update(agent=agent, tier=7)
    with pytest.raises(ValueError, match="handle"):
        agent_update(agent=agent, handle="ta_99999")
