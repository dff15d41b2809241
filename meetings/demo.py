"""The demo meetings `make run` seeds (`manage.py meetings_demo`): the coordination charter's three series in
America/Denver (the memo is signed in MST), organised by core, and the last three weekly syncs held, with minutes.

The series are created through meetings.services.series and their past occurrences stored through
occurrence_materialise. What happened in those meetings (the frozen agenda, notes, a decision, attendance, action
items, the close) is written with the models directly: the session services record a meeting as it happens, now,
and this is history. Idempotent: keyed on the series titles (a title already there is left as it is, with whatever
happened to it since).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agents.models import Division, Domain
from meetings import recurrence
from meetings.models import ActionItem, AgendaItem, Attendance, Decision, MeetingSeries, Occurrence
from meetings.selectors import slot_list
from meetings.services.occurrences import occurrence_materialise
from meetings.services.series import SeriesFields, series_create

ZONE = "America/Denver"
ORGANISER = "core"
ATTENDEES = ("core", "meridian", "runtime-lead", "workflow-lead", "member")
DOMAINS = ("novaops", "orchops")
# The weekly sync is the divisions whose leads attend, plus the one that owns the cross-domain hops.
WEEKLY_DIVISIONS = ("novacore-runtime", "workflow-engineering", "cross-domain-orchestration")


@dataclass(frozen=True)
class Charter:
    """One of the charter's series; it starts at its rule's first occurrence after `since` ago."""

    title: str
    kind: str
    rrule: str
    at: time
    minutes: int
    since: timedelta
    description: str
    divisions: tuple[str, ...] | None = None  # None: every division of both domains


CHARTER = (
    Charter(
        "Weekly sync",
        MeetingSeries.Kind.WEEKLY_SYNC,
        "FREQ=WEEKLY;BYDAY=TU",
        time(9),
        30,
        timedelta(weeks=12),
        "Cross-domain status and planning: what changed since last week, what is stuck, who does what next.",
        WEEKLY_DIVISIONS,
    ),
    Charter(
        "Monthly deep dive",
        MeetingSeries.Kind.MONTHLY_DEEP_DIVE,
        "FREQ=MONTHLY;BYDAY=1TH",
        time(13),
        120,
        timedelta(days=120),
        "Strategic planning and optimisation: one theme in depth, the month's trends across every division.",
    ),
    Charter(
        "Quarterly review",
        MeetingSeries.Kind.QUARTERLY_REVIEW,
        "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=1MO",
        time(9),
        240,
        timedelta(days=200),
        "Full alignment of NovaOps and OrchOps and the roadmap adjusted for the next quarter.",
    ),
)


def _metric(key: str, label: str, unit: str, before: float, after: float, tone: str) -> dict[str, Any]:
    change = round((after - before) / before * 100, 1)
    return {
        "key": key,
        "label": label,
        "unit": unit,
        "before": before,
        "after": after,
        "change_pct": change,
        "tone": tone,
    }


@dataclass(frozen=True)
class Item:
    kind: str
    title: str
    division: str | None
    figures: dict[str, Any]
    notes: str = ""


@dataclass(frozen=True)
class Action:
    title: str
    owner: str
    division: str | None
    status: str
    due_in_days: int = 7


@dataclass(frozen=True)
class Minutes:
    """One past weekly sync: its frozen agenda, decision, who missed it, and the actions it gave."""

    items: tuple[Item, ...]
    decision: str
    absent: tuple[str, ...]
    actions: tuple[Action, ...]
    carried: tuple[str, ...] = field(default=())  # titles of earlier open actions on this agenda


K = AgendaItem.Kind
LATENCY = ("task_latency_p95_ms", "Task latency p95", "ms")
THROUGHPUT = ("throughput_tasks_per_min", "Throughput", "tasks/min")
ERRORS = ("error_rate_pct", "Error rate", "%")
BACKLOG = ("queue_backlog", "Queue backlog", "tasks")
PROFILE = "Profile the scheduler's queue depth after the migration"
# The last three weekly syncs, oldest first.
SYNCS = (
    Minutes(
        items=(
            Item(
                K.METRICS,
                "NovaCore Runtime: key metrics",
                "novacore-runtime",
                {"metrics": [_metric(*LATENCY, 412, 486, "worse"), _metric(*THROUGHPUT, 38.2, 41.0, "better")]},
                "Latency rose when the queue migration started on Thursday.",
            ),
            Item(
                K.METRICS,
                "Workflow Engineering: key metrics",
                "workflow-engineering",
                {"metrics": [_metric(*ERRORS, 1.9, 1.6, "better"), _metric(*BACKLOG, 140, 152, "worse")]},
            ),
            Item(
                K.REGRESSION,
                "Atlas (ta_00012): task latency p95 up 24%",
                "novacore-runtime",
                {"agent": "ta_00012", **_metric(*LATENCY, 398, 494, "worse")},
                "Same pattern as the migration rehearsal; runtime-lead to confirm.",
            ),
            Item(K.TOPIC, "Hand-off hours between Workflow Engineering and Framework Integration", None, {}),
        ),
        decision="Keep the queue migration going; roll back only if latency p95 passes 550 ms.",
        absent=("member",),
        actions=(
            Action(PROFILE, "member", "novacore-runtime", ActionItem.Status.OPEN),
            Action(
                "Share the hand-off hours proposal", "workflow-lead", "workflow-engineering", ActionItem.Status.DONE
            ),
        ),
    ),
    Minutes(
        items=(
            Item(
                K.METRICS,
                "NovaCore Runtime: key metrics",
                "novacore-runtime",
                {"metrics": [_metric(*LATENCY, 486, 471, "better"), _metric(*THROUGHPUT, 41.0, 40.4, "worse")]},
            ),
            Item(
                K.ANOMALY,
                "Queue backlog spike in Workflow Engineering",
                "workflow-engineering",
                {"metric": "queue_backlog", "at": "Saturday 03:40", "value": 611, "expected": 150},
                "A replayed batch after the broker restart; not a trend.",
            ),
            Item(
                K.IMPROVEMENT,
                "Kestrel (ta_00158): error rate down 61%",
                "workflow-engineering",
                {"agent": "ta_00158", **_metric(*ERRORS, 3.1, 1.2, "better")},
            ),
        ),
        decision="One task schema across NovaOps and OrchOps: meridian drafts it, both domains sign off.",
        absent=(),
        actions=(Action("Draft the shared task schema", "meridian", None, ActionItem.Status.DONE, 14),),
        carried=(PROFILE,),
    ),
    Minutes(
        items=(
            Item(
                K.METRICS,
                "Cross-Domain Orchestration: key metrics",
                "cross-domain-orchestration",
                {"metrics": [_metric(*LATENCY, 530, 505, "better"), _metric(*ERRORS, 2.2, 2.3, "worse")]},
            ),
            Item(
                K.STOPPED,
                "2 agents stopped reporting",
                "workflow-engineering",
                {"agents": [{"handle": "ta_00160", "last_seen": "Sunday 22:15"}, {"handle": "ta_00161"}]},
                "Both on the host being replaced; expected back Wednesday.",
            ),
        ),
        decision="GPU hours for the nightly evaluation runs go to the scheduler's capacity review first.",
        absent=("meridian",),
        actions=(
            Action(
                "Confirm GPU hours for the nightly runs", "runtime-lead", "novacore-runtime", ActionItem.Status.OPEN, 6
            ),
        ),
        carried=(PROFILE,),
    ),
)


def meetings_demo_seed(*, now: datetime | None = None) -> list[str]:
    """Create every charter series not there yet, the weekly sync with its last three meetings' minutes (needs
    agents.demo's organisation); returns the titles added."""
    now = now or timezone.now()
    people = {user.username: user for user in get_user_model().objects.filter(username__in=ATTENDEES)}
    existing = set(
        MeetingSeries.objects.filter(title__in=[charter.title for charter in CHARTER]).values_list("title", flat=True)
    )
    added = []
    for charter in CHARTER:
        if charter.title in existing:
            continue
        with transaction.atomic():  # a series with its whole history or nothing: the next run tries again
            series = _series_create(charter, people, now)
            if charter.kind == MeetingSeries.Kind.WEEKLY_SYNC:
                _past_syncs(series, people, now)
        added.append(charter.title)
    return added


def _series_create(charter: Charter, people: dict[str, Any], now: datetime) -> MeetingSeries:
    divisions = Division.objects.filter(domain__slug__in=DOMAINS)
    if charter.divisions is not None:
        divisions = divisions.filter(slug__in=charter.divisions)
    fields = SeriesFields(
        title=charter.title,
        kind=charter.kind,
        rrule=charter.rrule,
        start_date=_first_date(charter, (now - charter.since).astimezone(recurrence.zone(ZONE)).date()),
        start_time=charter.at,
        timezone=ZONE,
        duration=timedelta(minutes=charter.minutes),
        description=charter.description,
        domains=list(Domain.objects.filter(slug__in=DOMAINS)),
        divisions=list(divisions.order_by("slug")),
        attendees=[people[name] for name in ATTENDEES],
    )
    return series_create(actor=people[ORGANISER], fields=fields)


def _first_date(charter: Charter, since: date) -> date:
    """The local date of the rule's first occurrence on or after `since`: a series' start is one of its occurrences
    (RFC 5545 leaves a DTSTART off its own rule undefined, and calendar apps show it as an extra meeting)."""
    pattern = recurrence.Pattern(charter.rrule, since, charter.at, ZONE, timedelta(minutes=charter.minutes))
    first = recurrence.first_start(pattern)
    assert first is not None, charter.title
    return recurrence.local(first, ZONE).date()


def _past_syncs(series: MeetingSeries, people: dict[str, Any], now: datetime) -> None:
    """The last len(SYNCS) weekly syncs that ended before `now`, held and closed, oldest first."""
    held = [
        slot for slot in slot_list(start=now - timedelta(weeks=6), end=now, series=_only(series)) if slot.end <= now
    ]
    held = held[-len(SYNCS) :]
    if not held:
        return
    actions: dict[str, ActionItem] = {}
    previous = held[0].start - timedelta(weeks=1)
    for slot, minutes in zip(held, SYNCS[-len(held) :], strict=True):
        occurrence = occurrence_materialise(series=series, original_start=slot.original_start)
        _minutes_record(occurrence, minutes, people, actions, period=(previous, occurrence.start))
        previous = occurrence.start
    # How many later agendas each action was carried onto; one still open is carried onto the next one too.
    for action in actions.values():
        ActionItem.objects.filter(pk=action.pk).update(carried=action.carried)


def _only(series: MeetingSeries) -> Any:
    return MeetingSeries.objects.filter(pk=series.pk)


def _minutes_record(
    occurrence: Occurrence,
    minutes: Minutes,
    people: dict[str, Any],
    actions: dict[str, ActionItem],
    *,
    period: tuple[datetime, datetime],
) -> None:
    """One meeting as it went: frozen and started at its start, items with their figures and notes, the earlier
    actions still open carried onto it, a decision, attendance, new actions, closed at its end. Written with the
    models (history, not a meeting happening now)."""
    divisions = {division.slug: division for division in Division.objects.filter(slug__in=WEEKLY_DIVISIONS)}
    items = _agenda(occurrence, minutes, divisions, period)
    for position, title in enumerate(minutes.carried, start=len(items) + 1):
        action = actions[title]
        action.carried += 1
        items.append(_carried_item(occurrence, position, action))
    AgendaItem.objects.bulk_create(items)
    first = AgendaItem.objects.filter(occurrence=occurrence).order_by("position").first()
    Decision.objects.create(occurrence=occurrence, agenda_item=first, text=minutes.decision, made_by=people[ORGANISER])
    Attendance.objects.bulk_create(
        [Attendance(occurrence=occurrence, user=people[name], present=name not in minutes.absent) for name in ATTENDEES]
    )
    for action in minutes.actions:
        actions[action.title] = ActionItem.objects.create(
            occurrence=occurrence,
            title=action.title,
            owner=people[action.owner],
            division=divisions.get(action.division) if action.division else None,
            due_on=recurrence.local(occurrence.start, ZONE).date() + timedelta(days=action.due_in_days),
            status=action.status,
        )
    Occurrence.objects.filter(pk=occurrence.pk).update(
        frozen_at=occurrence.start, started_at=occurrence.start, closed_at=occurrence.end
    )


def _agenda(
    occurrence: Occurrence, minutes: Minutes, divisions: dict[str, Division], period: tuple[datetime, datetime]
) -> list[AgendaItem]:
    """The agenda as it was built from the numbers and frozen: `data` and `snapshot` hold the same figures."""
    return [
        AgendaItem(
            occurrence=occurrence,
            position=position,
            kind=item.kind,
            title=item.title,
            division=divisions.get(item.division) if item.division else None,
            link=_dashboard_link(item.division, period),
            data=item.figures,
            snapshot=item.figures,
            notes=item.notes,
        )
        for position, item in enumerate(minutes.items, start=1)
    ]


def _carried_item(occurrence: Occurrence, position: int, action: ActionItem) -> AgendaItem:
    figures = {
        "action_item": action.pk,
        "owner": action.owner.username,
        "due_on": action.due_on.isoformat() if action.due_on else None,
        "status": action.status,
        "carried": action.carried,
    }
    return AgendaItem(
        occurrence=occurrence,
        position=position,
        kind=AgendaItem.Kind.ACTION,
        title=action.title,
        division=action.division,
        data=figures,
        snapshot=figures,
        source_key=f"action:{action.pk}",
    )


def _dashboard_link(division: str | None, period: tuple[datetime, datetime]) -> str:
    """The live dashboard for the period the item covers (since the previous sync), in the series' zone."""
    zone = recurrence.zone(ZONE)
    start, end = (moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds") for moment in period)
    query = urlencode({"from": start, "to": end, "tz": ZONE})
    path = reverse("dashboards:division", args=[division]) if division else reverse("dashboards:overview")
    return f"{path}?{query}"
