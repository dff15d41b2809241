import pytest
from django.db import DataError, IntegrityError, connection, transaction

from agents.models import Agent, Division, Person
from tests.factories import AgentFactory, DivisionFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


def _violates(constraint: str, action) -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        with connection.cursor() as cursor:
            # Deferred constraints are checked at commit, which a test transaction never reaches.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        action()


@pytest.mark.parametrize("handle", ["ta_1", "TA_00001", "xx_00001", "ta_0000a", ""])
def test_the_database_refuses_malformed_handles(handle):
    division = DivisionFactory()
    _violates("agent_handle_format", lambda: Agent.objects.create(handle=handle, callsign="X", division=division))


def test_the_database_refuses_overlong_handles():
    with pytest.raises(DataError), transaction.atomic():
        Agent.objects.create(handle="ta_000001", callsign="X", division=DivisionFactory())


def test_handles_are_unique():
    agent = AgentFactory(handle="ta_00042")
    _violates("handle", lambda: AgentFactory(handle="ta_00042", division=agent.division))


@pytest.mark.parametrize("tier", [0, 4])
def test_tiers_are_one_to_three(tier):
    _violates("agent_tier_valid", lambda: AgentFactory(tier=tier))
    _violates("division_tier_valid", lambda: DivisionFactory(tier=tier))


def test_lifecycle_state_must_be_known():
    _violates("agent_lifecycle_valid", lambda: AgentFactory(lifecycle_state="zombie"))


def test_a_division_lead_must_belong_to_the_division():
    division, elsewhere = DivisionFactory(), DivisionFactory()
    outsider = AgentFactory(division=elsewhere)
    division.lead = outsider
    _violates("division_lead_in_division", lambda: division.save())


def test_a_leading_agent_cannot_be_moved_out_of_their_division():
    division, elsewhere = DivisionFactory(), DivisionFactory()
    lead = AgentFactory(division=division)
    Division.objects.filter(pk=division.pk).update(lead=lead)
    lead.division = elsewhere
    _violates("division_lead_in_division", lambda: lead.save())


def test_an_agent_leads_at_most_one_division():
    division = DivisionFactory()
    lead = AgentFactory(division=division)
    Division.objects.filter(pk=division.pk).update(lead=lead)
    second = DivisionFactory()
    _violates("lead_id", lambda: Division.objects.filter(pk=second.pk).update(lead=lead))


def test_a_division_member_needs_a_division():
    _violates("person_member_has_division", lambda: PersonFactory(role=Person.Role.DIVISION_MEMBER, division=None))


def test_a_user_is_linked_to_at_most_one_agent():
    agent = AgentFactory()
    PersonFactory(agent=agent)
    _violates("agent_id", lambda: PersonFactory(agent=agent, user=UserFactory()))


def test_can_edit_division_follows_the_role():
    division, other = DivisionFactory(), DivisionFactory()
    lead = PersonFactory(role=Person.Role.TIER1_LEAD)
    member = PersonFactory(role=Person.Role.DIVISION_MEMBER, division=division)
    viewer = PersonFactory(role=Person.Role.VIEWER)
    assert lead.can_edit_division(other.pk)
    assert member.can_edit_division(division.pk) and not member.can_edit_division(other.pk)
    assert not viewer.can_edit_division(division.pk)
