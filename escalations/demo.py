"""The demo escalations `make run` seeds (`manage.py escalations_demo`): eight tickets over the demo organisation
(agents.demo), each kind in several states, with comments, claims, decisions, sign-offs, follow-ups, one that
missed its deadlines and climbed to level 3, and links to demo agents and catalogue metrics.

Every ticket is told as a short history through the services, each step dated in the past with their `at`
arguments, so the queue shows tickets of different ages and each timeline reads like a real one. Idempotent:
keyed on the ticket titles (a title already there is left as it is, with whatever happened to it since).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from agents.models import Agent, Division
from escalations.models import Escalation, Notification
from escalations.services.changes import comment_add
from escalations.services.outcomes import (
    Allocation,
    allocation_decide,
    allocation_propose,
    decision_write,
    follow_up_add,
    sign_off,
)
from escalations.services.raising import Claim, Links, Raise, Resource, escalation_raise
from escalations.services.sla import sla_sweep
from escalations.services.transitions import escalation_transition
from metrics.models import Metric

H = timedelta(hours=1)
D = timedelta(days=1)


@dataclass
class Story:
    """One demo ticket being told: the people and divisions by name, and the ticket once raised."""

    now: datetime
    people: dict[str, Any]
    divisions: dict[str, Division]
    ticket: Escalation | None = None
    raised_at: datetime | None = None

    def raised(self, *, by: str, kind: str, title: str, priority: str, division: str, against: list[str], ago, **more):
        self.raised_at = self.now - ago
        involved = [self.divisions[slug] for slug in [division, *against]]
        request = Raise(
            kind=kind,
            title=title,
            description=more.pop("description"),
            priority=priority,
            raised_division=self.divisions[division],
            divisions=involved[1:],
            links=Links(agents=_agents(involved), metrics=list(Metric.objects.filter(key__in=more.pop("metrics")))),
            **more,
        )
        self.ticket = escalation_raise(actor=self.people[by], request=request, at=self.raised_at)

    def then(self, after: timedelta, by: str, name: str) -> None:
        escalation_transition(number=self.ticket.number, name=name, actor=self.people[by], at=self.raised_at + after)

    def comment(self, after: timedelta, by: str, body: str) -> None:
        comment_add(number=self.ticket.number, actor=self.people[by], body=body, at=self.raised_at + after)

    def decide(self, after: timedelta, by: str, text: str) -> None:
        decision_write(number=self.ticket.number, actor=self.people[by], text=text, at=self.raised_at + after)

    def claim(self, division: str, amount: int, priority: str, justification: str, gains: str, gives: str) -> Claim:
        return Claim(self.divisions[division], Decimal(amount), justification, priority, gains, gives)


def _agents(divisions: list[Division]) -> list[Agent]:
    """The first agent of each division involved, by handle (the same ones every run)."""
    return [agent for division in divisions if (agent := division.agents.order_by("handle").first()) is not None]


def _friction_open(story: Story) -> None:
    story.raised(
        by="member",
        kind=Escalation.Kind.FRICTION,
        title="Retries of failed workflow steps collide with runtime restarts",
        priority="P3",
        division="novacore-runtime",
        against=["workflow-engineering"],
        ago=5 * H,
        description="Workflow Engineering retries a failed step while the runtime is still restarting the agent, "
        "so the step runs twice. Each side says the retry policy is the other's.",
        metrics=["error_rate_pct"],
    )
    story.comment(1 * H, "workflow-lead", "We see the doubled steps too: about **40 a day** since last Tuesday.")


def _resource_acknowledged(story: Story) -> None:
    story.raised(
        by="runtime-lead",
        kind=Escalation.Kind.RESOURCE_CONFLICT,
        title="GPU hours for the nightly evaluation runs",
        priority="P2",
        division="novacore-runtime",
        against=["resource-scheduling"],
        ago=1 * D,
        description="The runtime's nightly evaluation and Resource Scheduling's forecast retraining both need the "
        "shared GPU pool between 01:00 and 05:00.",
        resource=Resource(name="Shared GPU pool", unit="GPU-hours", capacity=Decimal(320)),
        claims=[
            story.claim(
                "novacore-runtime", 240, "P2", "Nightly evaluation of every runtime build.", "Safer builds", ""
            ),
            story.claim("resource-scheduling", 160, "P2", "Retrain the demand forecast.", "", "Its Sunday slot"),
        ],
        metrics=["queue_backlog", "cost_per_task_usd"],
    )
    story.then(2 * H, "runtime-lead", "acknowledge")
    story.comment(3 * H, "runtime-lead", "Acknowledged. Proposal tomorrow once we have last week's usage.")


def _strategic_one_sign_off(story: Story) -> None:
    story.raised(
        by="core",
        kind=Escalation.Kind.STRATEGIC_ALIGNMENT,
        title="One task schema across NovaOps and OrchOps",
        priority="P3",
        division="cross-domain-orchestration",
        against=["workflow-engineering"],
        ago=4 * D,
        description="Both domains describe tasks in their own schema and translate at every hand-off. Decide "
        "whether to adopt one schema, whose, and by when.",
        metrics=["workflow_completions"],
    )
    story.then(5 * H, "core", "start")
    story.decide(2 * D, "core", "Adopt OrchOps' task schema v3 in both domains by the end of next quarter.")
    sign_off(number=story.ticket.number, actor=story.people["core"], at=story.raised_at + 2 * D + H)
    story.comment(2 * D + 2 * H, "core", "Signed for NovaOps. Meridian, over to you.")


def _resource_waiting(story: Story) -> None:
    story.raised(
        by="member",
        kind=Escalation.Kind.RESOURCE_CONFLICT,
        title="Sandbox quota for tool integration tests",
        priority="P3",
        division="novacore-runtime",
        against=["tool-ecosystem"],
        ago=2 * D,
        description="The runtime's integration tests and the Tool Ecosystem's own suite exhaust the shared "
        "sandbox quota every afternoon.",
        resource=Resource(name="Tool sandboxes", unit="sandboxes", capacity=Decimal(60)),
        claims=[story.claim("novacore-runtime", 40, "P3", "Integration tests per merge.", "", "Night runs")],
        metrics=["tool_call_success_pct"],
    )
    story.then(3 * H, "runtime-lead", "acknowledge")
    story.comment(4 * H, "runtime-lead", "How many sandboxes does one merge need at peak? Numbers, please.")
    story.then(4 * H, "runtime-lead", "wait")


def _resource_resolved(story: Story) -> None:
    story.raised(
        by="workflow-lead",
        kind=Escalation.Kind.RESOURCE_CONFLICT,
        title="Scheduler capacity during the queue migration",
        priority="P2",
        division="workflow-engineering",
        against=["novacore-runtime", "resource-scheduling"],
        ago=6 * D,
        description="During the two-week queue migration the scheduler runs at half capacity; three divisions "
        "need it for their release work.",
        resource=Resource(name="Scheduler slots", unit="slots/h", capacity=Decimal(500)),
        claims=[
            story.claim("workflow-engineering", 300, "P1", "Migrate the queue itself.", "", "Its weekend slots"),
            story.claim("novacore-runtime", 150, "P2", "Release 4.2 rollout.", "Earlier rollout", ""),
            story.claim("resource-scheduling", 150, "P2", "Capacity tests.", "", "Runs tests at night"),
        ],
        metrics=["queue_backlog"],
    )
    story.then(1 * H, "workflow-lead", "acknowledge")
    story.then(5 * H, "workflow-lead", "escalate")
    claims = list(story.ticket.claims.order_by("pk"))
    proposal = allocation_propose(
        capacity=story.ticket.resource_capacity, claims=[(claim.priority, claim.amount) for claim in claims]
    )
    allocation_decide(
        number=story.ticket.number,
        actor=story.people["core"],
        allocations=[
            Allocation(claim.pk, amount, "NovaOps' proposal") for claim, amount in zip(claims, proposal, strict=True)
        ],
        rationale="The migration first; the rest shared in proportion to what was asked.",
        at=story.raised_at + D,
    )
    story.then(D + H, "core", "start")
    story.then(D + 2 * H, "core", "resolve")
    story.comment(D + 3 * H, "workflow-lead", "Thanks, that works for the migration.")


def _friction_closed(story: Story) -> None:
    story.raised(
        by="workflow-lead",
        kind=Escalation.Kind.FRICTION,
        title="Hand-off hours between Workflow Engineering and Framework Integration",
        priority="P3",
        division="workflow-engineering",
        against=["framework-integration"],
        ago=10 * D,
        description="Framework Integration hands work over at 18:00 UTC, after Workflow Engineering's on-call "
        "has gone; the work waits until morning.",
        metrics=["workflow_completions"],
    )
    story.then(2 * H, "meridian", "acknowledge")
    story.then(3 * H, "meridian", "start")
    story.decide(D, "meridian", "Hand-offs move to 15:00 UTC; anything later goes to the shared on-call rota.")
    due = (story.raised_at + 14 * D).date()
    for description, owner in (("Publish the new hand-off hours", "workflow-lead"), ("Update the rota", "core")):
        _follow_up(story, description, owner, due)
    story.then(D + 2 * H, "meridian", "resolve")
    story.then(2 * D, "workflow-lead", "close")


def _follow_up(story: Story, description: str, owner: str, due_on: date) -> None:
    follow_up_add(
        number=story.ticket.number,
        actor=story.people["meridian"],
        description=description,
        owner=story.people[owner],
        due_on=due_on,
        at=story.raised_at + D + H,
    )


def _strategic_breached(story: Story) -> None:
    story.raised(
        by="member",
        kind=Escalation.Kind.STRATEGIC_ALIGNMENT,
        title="Who owns latency budgets for cross-domain workflows",
        priority="P1",
        division="novacore-runtime",
        against=["performance-analytics"],
        ago=3 * D,
        description="A workflow spanning both domains missed its latency target; neither domain's budget covers "
        "the hops between them.",
        metrics=["task_latency_p95_ms"],
    )
    # Nobody acknowledged within the hour, nor resolved within the day: the SLA job took it up twice.
    sla_sweep(now=story.raised_at + H + timedelta(minutes=1))
    story.then(2 * H, "core", "acknowledge")
    sla_sweep(now=story.raised_at + D + timedelta(minutes=1))
    story.comment(D + 2 * H, "meridian", "Both of us now. Proposal: each domain owns its hops, the caller the rest.")


def _friction_in_progress(story: Story) -> None:
    story.raised(
        by="runtime-lead",
        kind=Escalation.Kind.FRICTION,
        title="Identity tokens expire mid-workflow",
        priority="P2",
        division="novacore-runtime",
        against=["identity-continuity"],
        ago=8 * H,
        description="Long workflows outlive the identity tokens Identity & Continuity issues; the runtime has to "
        "restart them.",
        metrics=["error_rate_pct"],
    )
    story.then(H, "core", "start")
    story.comment(2 * H, "core", "Looking at a refresh-before-expiry hook with Identity & Continuity.")


# title → how it happened. The breached one comes first: the SLA job it runs sees no other demo ticket yet.
STORIES: dict[str, Callable[[Story], None]] = {
    "Who owns latency budgets for cross-domain workflows": _strategic_breached,
    "Hand-off hours between Workflow Engineering and Framework Integration": _friction_closed,
    "Scheduler capacity during the queue migration": _resource_resolved,
    "One task schema across NovaOps and OrchOps": _strategic_one_sign_off,
    "Sandbox quota for tool integration tests": _resource_waiting,
    "GPU hours for the nightly evaluation runs": _resource_acknowledged,
    "Identity tokens expire mid-workflow": _friction_in_progress,
    "Retries of failed workflow steps collide with runtime restarts": _friction_open,
}
PEOPLE = ("core", "meridian", "member", "runtime-lead", "workflow-lead")


def escalations_demo_seed(*, now: datetime | None = None) -> list[str]:
    """Tell every demo ticket not there yet (needs agents.demo's organisation); returns the titles added."""
    now = now or timezone.now()
    people = {user.username: user for user in get_user_model().objects.filter(username__in=PEOPLE)}
    divisions = {division.slug: division for division in Division.objects.all()}
    existing = set(Escalation.objects.filter(title__in=STORIES).values_list("title", flat=True))
    added = []
    for title, tell in STORIES.items():
        if title in existing:
            continue
        with transaction.atomic():  # a whole history or none of it: the next run retells it
            story = Story(now=now, people=people, divisions=divisions)
            tell(story)
            # A history, not news: nobody is mailed about it (under `make run` that would be two dozen emails).
            Notification.objects.filter(escalation=story.ticket, sent_at__isnull=True).update(sent_at=now)
        added.append(title)
    return added
