"""Who each level is assigned to, and whom a lead may hand a ticket to."""

import pytest

from escalations.routing import level_assignees, level_pool


def _names(users):
    return [user.username for user in users]


@pytest.fixture
def route(org):
    def names(function, level, *divisions):
        return _names(
            function(
                level=level,
                division_ids={division.pk for division in divisions},
                domain_ids={division.domain_id for division in divisions},
            )
        )

    return names


def test_level_one_is_the_involved_divisions_leads(org, route):
    assert route(level_assignees, 1, org.runtime, org.workflow) == ["runtime-lead", "workflow-lead"]
    assert route(level_assignees, 1, org.tools) == ["tools-lead"]


def test_level_two_is_the_tier1_lead_of_each_involved_domain(org, route):
    assert route(level_assignees, 2, org.runtime, org.workflow) == ["core", "meridian"]
    assert route(level_assignees, 2, org.runtime, org.tools) == ["core"]
    assert route(level_assignees, 2, org.workflow) == ["meridian"]


def test_level_three_is_both_tier1_leads(org, route):
    assert route(level_assignees, 3, org.workflow) == ["core", "meridian"]


def test_the_level_one_pool_adds_the_involved_divisions_members(org, route):
    assert route(level_pool, 1, org.runtime) == ["runtime-lead", "runtime-member"]
    assert route(level_pool, 2, org.runtime) == ["core"]


def test_inactive_people_are_not_assigned(org, route):
    org.workflow_lead.is_active = False
    org.workflow_lead.save()
    assert route(level_assignees, 1, org.runtime, org.workflow) == ["runtime-lead"]
