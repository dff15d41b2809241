"""meetings.services.agenda: building the agenda is idempotent and keeps what people did to it; edits are versioned;
reordering; the freeze stores the figures once."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from meetings.models import AgendaItem
from meetings.services.agenda import (
    ItemText,
    agenda_build,
    agenda_freeze,
    agenda_item_add,
    agenda_item_edit,
    agenda_item_move,
    agenda_item_remove,
)
from meetings.services.occurrences import occurrence_open
from novaops.errors import Conflict, Forbidden
from tests.factories import AgentFactory

MEETING = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PREVIOUS = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(MEETING, tick=False) as traveller:
        yield traveller


@pytest.fixture
def occurrence(weekly_sync):
    return occurrence_open(series=weekly_sync, original_start=MEETING)


@pytest.fixture
def worse_errors(crew, land):
    """ta_00001's error rate: 1 % hourly the week before the period, 5 % in it (a regression)."""
    AgentFactory(handle="ta_00001", callsign="Atlas", division=crew.runtime)
    moment, points = PREVIOUS - timedelta(days=7), []
    while moment < MEETING:
        points.append(("error_rate_pct", "ta_00001", moment, 5.0 if moment >= PREVIOUS else 1.0))
        moment += timedelta(hours=1)
    land(crew.runtime, points)


def keys(occurrence):
    return list(occurrence.agenda.filter(removed_at__isnull=True).values_list("source_key", flat=True))


def test_building_twice_adds_nothing_the_second_time(worse_errors, occurrence):
    assert agenda_build(occurrence=occurrence) > 0
    first = keys(occurrence)
    assert "metrics:novacore-runtime" in first and "regression:ta_00001:error_rate_pct" in first
    assert agenda_build(occurrence=occurrence) == 0
    assert keys(occurrence) == first


def test_a_refresh_keeps_hand_added_items_edits_and_removals(worse_errors, crew, occurrence):
    agenda_build(occurrence=occurrence)
    topic = agenda_item_add(actor=crew.core, occurrence=occurrence, text=ItemText("Capacity"))
    metrics = occurrence.agenda.get(source_key="metrics:novacore-runtime")
    agenda_item_edit(
        actor=crew.core, occurrence=occurrence, item_id=metrics.pk, text=ItemText("Runtime, briefly"), version=1
    )
    regression = occurrence.agenda.get(source_key="regression:ta_00001:error_rate_pct")
    agenda_item_remove(actor=crew.core, occurrence=occurrence, item_id=regression.pk)

    agenda_build(occurrence=occurrence)

    assert AgendaItem.objects.get(pk=topic.pk).title == "Capacity"
    assert AgendaItem.objects.get(pk=metrics.pk).title == "Runtime, briefly"
    assert "regression:ta_00001:error_rate_pct" not in keys(occurrence)  # removed stays removed


def test_a_save_based_on_an_older_version_is_refused_with_the_current_text(crew, occurrence):
    item = agenda_item_add(actor=crew.core, occurrence=occurrence, text=ItemText("Capacity"))
    agenda_item_edit(actor=crew.core, occurrence=occurrence, item_id=item.pk, text=ItemText("Capacity Q2"), version=1)
    with pytest.raises(Conflict) as refused:
        agenda_item_edit(actor=crew.meridian, occurrence=occurrence, item_id=item.pk, text=ItemText("Mine"), version=1)
    assert refused.value.status == 409
    assert refused.value.extra["current"] == {"title": "Capacity Q2", "body": "", "notes": "", "version": 2}
    assert AgendaItem.objects.get(pk=item.pk).title == "Capacity Q2"


def test_items_move_up_and_down(crew, occurrence):
    a, b, c = (agenda_item_add(actor=crew.core, occurrence=occurrence, text=ItemText(t)) for t in "abc")
    agenda_item_move(actor=crew.core, occurrence=occurrence, item_id=c.pk, step=-1)
    agenda_item_move(actor=crew.core, occurrence=occurrence, item_id=a.pk, step=-1)  # already first: stays
    assert list(occurrence.agenda.values_list("title", flat=True)) == ["a", "c", "b"]


def test_members_and_viewers_do_not_rearrange_the_agenda(crew, occurrence):
    item = agenda_item_add(actor=crew.core, occurrence=occurrence, text=ItemText("Capacity"))
    for person in (crew.runtime_member, crew.viewer):
        with pytest.raises(Forbidden):
            agenda_item_move(actor=person, occurrence=occurrence, item_id=item.pk, step=1)
        with pytest.raises(Forbidden):
            agenda_item_remove(actor=person, occurrence=occurrence, item_id=item.pk)
    with pytest.raises(Forbidden):
        agenda_item_add(actor=crew.viewer, occurrence=occurrence, text=ItemText("Mine"))


def test_the_freeze_stores_the_figures_once(worse_errors, crew, occurrence, clock):
    frozen = agenda_freeze(actor=crew.core, occurrence=occurrence)
    assert frozen.frozen_at == MEETING
    regression = occurrence.agenda.get(source_key="regression:ta_00001:error_rate_pct")
    assert regression.snapshot["data"] == regression.data
    clock.shift(timedelta(minutes=10))
    again = agenda_freeze(actor=crew.core, occurrence=occurrence)
    assert again.frozen_at == MEETING  # safe twice: the first freeze stands
    with pytest.raises(Forbidden):
        agenda_freeze(actor=crew.runtime_member, occurrence=occurrence)
