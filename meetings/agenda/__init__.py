"""The agenda of an occurrence, read from what changed since the previous occurrence of its series.

Everything numeric comes through the dashboards' selectors and analytics (the same period summary, direction-aware
tones, top movers, anomaly marks and stopped-reporting rule the overview uses), so a figure on the agenda is the
figure the linked dashboard shows for the same period. The escalations are read through escalations.selectors.
This package only proposes items (`Proposal`; the numbers' sections in numbers.py) and reads them back for the pages
(`agenda_rows`, `minutes_context`); meetings.services.agenda stores them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from agents.models import Division
from dashboards import selectors as dashboards
from escalations import selectors as escalations
from meetings import recurrence
from meetings.agenda.numbers import (
    Period,
    Proposal,
    anomalies,
    division_metrics,
    key_metrics,
    movers,
    stopped,
)
from meetings.models import ActionItem, AgendaItem, MeetingKind, MeetingSeries, Occurrence
from meetings.selectors import previous_occurrence_start

# The first occurrence of a series has no previous one: it looks back one cadence.
FIRST_LOOKBACK = {
    MeetingKind.WEEKLY_SYNC: timedelta(days=7),
    MeetingKind.MONTHLY_DEEP_DIVE: timedelta(days=30),
    MeetingKind.QUARTERLY_REVIEW: timedelta(days=91),
    MeetingKind.OTHER: timedelta(days=7),
}
Kind = AgendaItem.Kind


def agenda_period(*, occurrence: Occurrence, now: datetime | None = None) -> Period:
    """Since the previous (not cancelled) occurrence of the series, or one cadence back for the first, up to the
    occurrence's start, or now when that is earlier (an agenda read before the meeting shows what is known)."""
    series = occurrence.series
    now = now or timezone.now()
    end = min(occurrence.start, now)
    previous = previous_occurrence_start(series=series, before=occurrence.start)
    lookback = FIRST_LOOKBACK.get(series.kind, timedelta(days=7))
    start = previous if previous is not None else occurrence.start - lookback
    if start >= end:
        # Read long before the meeting (before the previous one even happened): the last cadence up to now.
        start = end - lookback
    return Period(start=start, end=end, zone=series.timezone, since_previous=previous is not None)


def agenda_proposals(*, occurrence: Occurrence, period: Period) -> list[Proposal]:
    """Every item the numbers and the tickets put on this occurrence's agenda, in section order; a section with
    nothing to say (no metrics reported, no tickets) has no item at all."""
    divisions = list(occurrence.series.divisions.select_related("domain").order_by("domain__name", "name"))
    metrics = key_metrics()
    proposals: list[Proposal] = []
    if divisions and metrics:
        summary = dashboards.period_summary(
            metric_keys=[m.key for m in metrics],
            start=period.start,
            end=period.end,
            division_ids=[d.pk for d in divisions],
        )
        proposals += division_metrics(summary, divisions, metrics, period)
        proposals += movers(summary, divisions, metrics, period)
        proposals += anomalies(divisions, metrics, period)
    if divisions:
        proposals += stopped(divisions, period)
        proposals += tickets(divisions, period)
    proposals += carried_actions(occurrence)
    return proposals


def tickets(divisions: list[Division], period: Period) -> list[Proposal]:
    """Escalations opened, breached or decided in the period, and the open follow-ups friction resolutions left."""
    division_ids = [d.pk for d in divisions]
    out = []
    for ticket in escalations.meeting_escalation_list(division_ids=division_ids, start=period.start, end=period.end):
        happened = [
            word
            for word, moment in (
                ("opened", ticket.created_at),
                ("breached", ticket.acknowledge_breached_at),
                ("breached", ticket.resolve_breached_at),
                ("decided", ticket.resolved_at),
            )
            if moment is not None and period.start <= moment < period.end
        ]
        out.append(
            Proposal(
                kind=Kind.ESCALATION,
                source_key=f"escalation:{ticket.number}",
                title=f"{ticket.key} {ticket.title}",
                body=f"{ticket.get_priority_display()}, {ticket.get_state_display().lower()}.",
                division_id=ticket.raised_division_id if ticket.raised_division_id in division_ids else None,
                link=reverse("escalations:detail", args=[ticket.number]),
                data={"state": ticket.state, "priority": ticket.priority, "happened": sorted(set(happened))},
            )
        )
    for follow_up in escalations.open_follow_up_list(division_ids=division_ids):
        out.append(
            Proposal(
                kind=Kind.ACTION,
                source_key=f"follow-up:{follow_up.pk}",
                title=f"{follow_up.escalation.key} follow-up: {follow_up.description}",
                body=f"Owner {follow_up.owner.get_username()}, due {follow_up.due_on:%Y-%m-%d}.",
                link=reverse("escalations:detail", args=[follow_up.escalation.number]),
                data={"owner": follow_up.owner.get_username(), "due_on": follow_up.due_on.isoformat()},
            )
        )
    return out


def series_chain(series: MeetingSeries) -> list[int]:
    """The series and those it was split from ("this and following" edits): one meeting's history."""
    ids, current = [], series
    while current is not None and current.pk not in ids:
        ids.append(current.pk)
        current = current.split_from
    return ids


def open_earlier_actions(occurrence: Occurrence) -> list[ActionItem]:
    """Action items still open from earlier occurrences of the series (and of those it was split from)."""
    return list(
        ActionItem.objects.filter(
            occurrence__series_id__in=series_chain(occurrence.series), occurrence__start__lt=occurrence.start
        )
        .filter(Q(status=ActionItem.Status.OPEN) | Q(status=ActionItem.Status.IN_PROGRESS))
        .exclude(occurrence=occurrence)
        .select_related("owner", "occurrence")
        .order_by("due_on", "id")
    )


def carried_actions(occurrence: Occurrence) -> list[Proposal]:
    """An item per action item still open from an earlier meeting, linking to it on that meeting's page."""
    return [
        Proposal(
            kind=Kind.ACTION,
            source_key=f"action:{action.pk}",
            title=action.title,
            body=f"Owner {action.owner.get_username()}"
            + (f", due {action.due_on:%Y-%m-%d}" if action.due_on else "")
            + ".",
            division_id=action.division_id,
            link=reverse(
                "meetings:occurrence",
                args=[action.occurrence.series_id, recurrence.recurrence_id(action.occurrence.original_start)],
            )
            + f"#action-{action.pk}",
            data={"action_id": action.pk, "owner": action.owner.get_username()},
        )
        for action in open_earlier_actions(occurrence)
    ]


# --- what the pages and the minutes show ---


def agenda_rows(occurrence: Occurrence) -> list[AgendaItem]:
    """The agenda's items (removed ones left out), each with `shown`: the figures as frozen when the agenda is
    frozen (the snapshot), else as they are now; and `carried` for an action item carried over (how many times)."""
    items = list(occurrence.agenda.filter(removed_at__isnull=True).select_related("division", "added_by"))
    action_ids = [item.data.get("action_id") for item in items if item.source_key.startswith("action:")]
    actions = ActionItem.objects.in_bulk([pk for pk in action_ids if pk])
    for item in items:
        frozen = occurrence.frozen_at is not None and item.snapshot is not None
        item.shown = item.snapshot.get("data", {}) if frozen else item.data
        item.is_frozen = frozen
        action = actions.get(item.data.get("action_id")) if item.source_key.startswith("action:") else None
        item.action = action
    return items


def minutes_context(occurrence: Occurrence) -> dict[str, Any]:
    """What the minutes (page, Markdown, email) show: the agenda with its frozen figures, notes, decisions,
    attendance and action items."""
    series = occurrence.series
    path = reverse("meetings:occurrence", args=[series.pk, recurrence.recurrence_id(occurrence.original_start)])
    return {
        "occurrence": occurrence,
        "series": series,
        "local_start": recurrence.local(occurrence.start, series.timezone),
        "items": agenda_rows(occurrence),
        "decisions": list(occurrence.decisions.select_related("made_by", "agenda_item")),
        "attendance": list(occurrence.attendance.select_related("user").order_by("user__username")),
        "actions": list(occurrence.action_items.select_related("owner", "division")),
        "url": f"{settings.NOVAOPS_BASE_URL}{path}",
    }
