"""The agenda's rows: built and refreshed from meetings.agenda's proposals, edited by hand, frozen.

Every write takes the occurrence row with SELECT … FOR UPDATE first, so two refreshes (two leads opening the page at
once) or a refresh racing a freeze run one after the other instead of adding an item twice. Edits carry the
`version` their author read: a save based on an older version is refused (409) with the current text, so two people
editing one item never silently overwrite each other.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from meetings import constants
from meetings.agenda import Proposal, agenda_period, agenda_proposals
from meetings.models import ActionItem, AgendaItem, Occurrence
from meetings.policies import may_add_item_for, may_edit_series
from novaops.errors import Conflict, Forbidden, InvalidInput


@dataclass(frozen=True)
class ItemText:
    title: str
    body: str = ""


def occurrence_lock(occurrence: Occurrence) -> Occurrence:
    """The occurrence's row, locked until the transaction ends (callers are atomic)."""
    return Occurrence.objects.select_for_update().select_related("series").get(pk=occurrence.pk)


def require_open(occurrence: Occurrence) -> None:
    """A cancelled occurrence, or one whose minutes are closed, takes no more edits."""
    if occurrence.status == Occurrence.Status.CANCELLED:
        raise Conflict(
            "This occurrence is cancelled; its agenda cannot be changed.",
            errors=[{"field": "occurrence", "message": "Cancelled."}],
        )
    if occurrence.closed_at is not None:
        raise Conflict("This meeting is closed; its minutes no longer change.")


def require_editor(actor: Any, occurrence: Occurrence) -> None:
    if not may_edit_series(actor, occurrence.series):
        raise Forbidden(f"Only Tier 1 leads and the organiser run “{occurrence.series.title}”.")


def agenda_build(*, occurrence: Occurrence, now: datetime | None = None) -> int:
    """Bring the agenda up to date with the numbers; returns how many items were added. Idempotent: an item built
    before is found again by its `source_key` and its figures refreshed; its title and body too unless someone
    edited it. Hand-added items, edits, notes and removals are kept; an item the numbers no longer give is dropped
    unless someone touched it. A frozen, closed or cancelled agenda is left as it is: it is what was seen.
    Carrying an open action item onto this agenda counts one more carry on the action item (once per agenda)."""
    with transaction.atomic():
        occurrence = occurrence_lock(occurrence)
        if occurrence.frozen_at or occurrence.closed_at or occurrence.status == Occurrence.Status.CANCELLED:
            return 0
        proposals = agenda_proposals(occurrence=occurrence, period=agenda_period(occurrence=occurrence, now=now))
        existing = {item.source_key: item for item in occurrence.agenda.exclude(source_key="")}
        wanted = {proposal.source_key for proposal in proposals}
        for key, item in existing.items():
            if key not in wanted and _untouched(item):
                item.delete()
        position = _next_position(occurrence)
        added, refreshed = [], []
        for proposal in proposals:
            item = existing.get(proposal.source_key)
            if item is None:
                added.append(_new_item(occurrence, proposal, position))
                position += 1
            elif item.removed_at is None:
                refreshed.append(_refresh(item, proposal))
        AgendaItem.objects.bulk_create(added)
        # One statement for every refreshed item, not one each (every page view until the freeze refreshes them all).
        # Safe under the occurrence's row lock: the edits of an item's title and body take it too.
        AgendaItem.objects.bulk_update(refreshed, ["data", "link", "title", "body"])
        carried = [item.data["action_id"] for item in added if item.source_key.startswith("action:")]
        ActionItem.objects.filter(pk__in=carried).update(carried=F("carried") + 1)
        return len(added)


def _untouched(item: AgendaItem) -> bool:
    return item.version == 1 and not item.notes and item.removed_at is None


def _next_position(occurrence: Occurrence) -> int:
    return (occurrence.agenda.aggregate(last=Max("position"))["last"] or 0) + 1


def _new_item(occurrence: Occurrence, proposal: Proposal, position: int) -> AgendaItem:
    return AgendaItem(
        occurrence=occurrence,
        position=position,
        kind=proposal.kind,
        title=proposal.title[: constants.TITLE_MAX],
        body=proposal.body,
        division_id=proposal.division_id,
        link=proposal.link,
        data=proposal.data,
        source_key=proposal.source_key,
    )


def _refresh(item: AgendaItem, proposal: Proposal) -> AgendaItem:
    """The item with the proposal's figures and link; its title and body too unless someone edited it."""
    item.data, item.link = proposal.data, proposal.link
    if item.version == 1:
        item.title, item.body = proposal.title[: constants.TITLE_MAX], proposal.body
    return item


def agenda_item_add(
    *, actor: Any, occurrence: Occurrence, text: ItemText, division_id: int | None = None
) -> AgendaItem:
    """A topic added by hand, at the end: editors for anything, a member of a taking-part division for it."""
    _check_text(text)
    with transaction.atomic():
        occurrence = occurrence_lock(occurrence)
        require_open(occurrence)
        if not may_add_item_for(actor, occurrence.series, division_id):
            raise Forbidden("Members add agenda items for their own division when it takes part; leads for any.")
        return AgendaItem.objects.create(
            occurrence=occurrence,
            position=_next_position(occurrence),
            kind=AgendaItem.Kind.TOPIC,
            title=text.title,
            body=text.body,
            division_id=division_id,
            added_by=actor,
            # Added after the freeze: its (empty) figures are what was seen.
            snapshot={"data": {}} if occurrence.frozen_at else None,
        )


def _check_text(text: ItemText) -> None:
    errors = []
    if not text.title.strip():
        errors.append({"field": "title", "message": "An item needs a title."})
    if len(text.title) > constants.TITLE_MAX:
        errors.append({"field": "title", "message": f"At most {constants.TITLE_MAX} characters."})
    if len(text.body) > constants.TEXT_MAX:
        errors.append({"field": "body", "message": f"At most {constants.TEXT_MAX} characters."})
    if errors:
        raise InvalidInput("The agenda item is not valid.", errors=errors)


def item_locked(occurrence: Occurrence, item_id: int) -> AgendaItem:
    item = occurrence.agenda.select_for_update().filter(pk=item_id, removed_at__isnull=True).first()
    if item is None:
        raise InvalidInput("No such agenda item.", errors=[{"field": "item", "message": "Not on this agenda."}])
    return item


def stale(item: AgendaItem, version: int | None) -> Conflict:
    """The refusal of a save based on an older version, carrying the text as it is now."""
    return Conflict(
        f"Someone else changed “{item.title}” since you opened it (version {item.version}, you had "
        f"{version}). Its current text is shown; apply your change to it and save again.",
        extra={"current": {"title": item.title, "body": item.body, "notes": item.notes, "version": item.version}},
    )


def agenda_item_edit(
    *, actor: Any, occurrence: Occurrence, item_id: int, text: ItemText, version: int | None
) -> AgendaItem:
    """Title and body of an item; refused (409 with the current text) when it changed since `version`."""
    _check_text(text)
    with transaction.atomic():
        occurrence = occurrence_lock(occurrence)
        require_open(occurrence)
        item = item_locked(occurrence, item_id)
        if not (may_edit_series(actor, occurrence.series) or (item.added_by_id == actor.pk and item.added_by_id)):
            raise Forbidden("Leads, the organiser and whoever added an item edit it.")
        if version != item.version:
            raise stale(item, version)
        AgendaItem.objects.filter(pk=item.pk).update(title=text.title, body=text.body, version=F("version") + 1)
        item.refresh_from_db()
        return item


def agenda_item_remove(*, actor: Any, occurrence: Occurrence, item_id: int) -> None:
    """An item built from the numbers is hidden (a refresh does not bring it back); one added by hand is deleted."""
    with transaction.atomic():
        occurrence = occurrence_lock(occurrence)
        require_open(occurrence)
        require_editor(actor, occurrence)
        item = item_locked(occurrence, item_id)
        if item.source_key:
            AgendaItem.objects.filter(pk=item.pk).update(removed_at=timezone.now(), version=F("version") + 1)
        else:
            item.delete()


def agenda_item_move(*, actor: Any, occurrence: Occurrence, item_id: int, step: int) -> None:
    """One place up (-1) or down (+1); positions are renumbered 1… in the agenda's order on the way."""
    if step not in (-1, 1):
        raise InvalidInput("Move one place up or down.", errors=[{"field": "step", "message": "Either -1 or 1."}])
    with transaction.atomic():
        occurrence = occurrence_lock(occurrence)
        require_open(occurrence)
        require_editor(actor, occurrence)
        items = list(occurrence.agenda.filter(removed_at__isnull=True).order_by("position", "id"))
        index = next((n for n, item in enumerate(items) if item.pk == item_id), None)
        if index is None:
            raise InvalidInput("No such agenda item.", errors=[{"field": "item", "message": "Not on this agenda."}])
        other = index + step
        if 0 <= other < len(items):
            items[index], items[other] = items[other], items[index]
        for position, item in enumerate(items, start=1):
            item.position = position
        AgendaItem.objects.bulk_update(items, ["position"])


def agenda_freeze(*, actor: Any, occurrence: Occurrence, now: datetime | None = None) -> Occurrence:
    """Store every item's figures as `snapshot` and mark the agenda frozen: the minutes show what was seen, whatever
    the metrics do afterwards. The agenda is brought up to date first. Safe twice: a frozen agenda stays as it was."""
    require_editor(actor, occurrence)
    return freeze(occurrence=occurrence, now=now)


def freeze(*, occurrence: Occurrence, now: datetime | None = None) -> Occurrence:
    """agenda_freeze without the permission check (session start and close have checked it)."""
    now = now or timezone.now()
    if occurrence.status == Occurrence.Status.CANCELLED:
        require_open(occurrence)  # refuses: a cancelled meeting has nothing to freeze (a closed one is frozen already)
    agenda_build(occurrence=occurrence, now=now)
    with transaction.atomic():
        locked = occurrence_lock(occurrence)
        if locked.frozen_at is None:
            items = list(locked.agenda.all())
            for item in items:
                item.snapshot = {"data": item.data, "title": item.title, "body": item.body}
            AgendaItem.objects.bulk_update(items, ["snapshot"])
            Occurrence.objects.filter(pk=locked.pk).update(frozen_at=now)
    return Occurrence.objects.select_related("series").get(pk=occurrence.pk)
