"""Action items added to an occurrence outside the meeting page (the REST API): who may, on which occurrence."""

from datetime import date, datetime
from typing import Any

from agents.models import Division
from meetings.models import ActionItem, MeetingSeries, Occurrence
from meetings.policies import may_add_item_for
from meetings.services.occurrences import occurrence_materialise
from novaops.errors import Conflict, Forbidden


def action_item_add(
    *,
    actor: Any,
    series: MeetingSeries,
    original_start: datetime,
    title: str,
    owner: Any,
    division: Division | None = None,
    due_on: date | None = None,
) -> ActionItem:
    """A new open action item on the occurrence of `series` at `original_start` (stored first if it is not yet).

    Leads and the organiser add any; a division member adds one for their own division when it takes part
    (meetings.policies.may_add_item_for). A cancelled occurrence, or one whose minutes are closed, takes none (409):
    the item would sit on a meeting that did not happen or whose record is final.
    """
    if not may_add_item_for(actor, series, division.pk if division is not None else None):
        raise Forbidden(
            f"Only Tier 1 leads, the organiser of “{series.title}” and members of a division taking part (for "
            "their own division) add action items."
        )
    # A stored occurrence is taken as it is (one kept for its minutes may no longer be on the rule); else stored now.
    occurrence = Occurrence.objects.filter(series=series, original_start=original_start).first()
    if occurrence is None:
        occurrence = occurrence_materialise(series=series, original_start=original_start)
    if occurrence.status == Occurrence.Status.CANCELLED:
        raise Conflict("This occurrence is cancelled; it takes no action items.")
    if occurrence.closed_at is not None:
        raise Conflict("This meeting is over and its minutes are closed.")
    return ActionItem.objects.create(
        occurrence=occurrence, title=title.strip(), owner=owner, division=division, due_on=due_on
    )
