"""Meeting tests: the charter's weekly sync in America/Denver, with leads, members and a viewer of two domains."""

from datetime import date, time, timedelta

import pytest

from meetings.models import MeetingSeries
from meetings.services.series import SeriesFields, series_create
from tests.factories import DivisionFactory, DomainFactory, PersonFactory, UserFactory


@pytest.fixture
def crew(db):
    """Tier 1 leads core and meridian, members of runtime (NovaOps) and workflow (OrchOps), a viewer."""
    novaops = DomainFactory(name="NovaOps", slug="novaops")
    orchops = DomainFactory(name="OrchOps", slug="orchops")
    runtime = DivisionFactory(domain=novaops, name="NovaCore Runtime", slug="novacore-runtime")
    workflow = DivisionFactory(domain=orchops, name="Workflow Engineering", slug="workflow-engineering")

    def person(username, **values):
        user = UserFactory(username=username, email=f"{username}@example.test")
        PersonFactory(user=user, **values)
        return user

    class Crew:
        pass

    crew = Crew()
    crew.novaops, crew.orchops, crew.runtime, crew.workflow = novaops, orchops, runtime, workflow
    crew.core = person("core", role="tier1_lead", domain=novaops)
    crew.meridian = person("meridian", role="tier1_lead", domain=orchops)
    crew.runtime_member = person("runtime-member", role="division_member", division=runtime)
    crew.workflow_member = person("workflow-member", role="division_member", division=workflow)
    crew.viewer = person("viewer", role="viewer")
    return crew


@pytest.fixture
def weekly_sync(crew) -> MeetingSeries:
    """Tuesdays 09:00 America/Denver for 30 minutes, from 6 January 2026 (MST), both domains."""
    fields = SeriesFields(
        title="Weekly sync",
        kind=MeetingSeries.Kind.WEEKLY_SYNC,
        rrule="FREQ=WEEKLY;BYDAY=TU",
        start_date=date(2026, 1, 6),
        start_time=time(9, 0),
        timezone="America/Denver",
        duration=timedelta(minutes=30),
        domains=[crew.novaops, crew.orchops],
        divisions=[crew.runtime, crew.workflow],
        attendees=[crew.core, crew.meridian, crew.runtime_member, crew.workflow_member],
    )
    return series_create(actor=crew.core, fields=fields)
