"""The escalations benchmark's data, written in the bench process (Django set up with the private servers' env).

Every ticket is raised through `escalation_raise` (number, routing, deadlines, divisions, claims, notifications, the
trail). What happens to it afterwards is set in bulk, with the trail's triggers on (each UPDATE writes its event
rows, under an `audited` context): states, acknowledge/resolve times, breaches recorded as a sweep would have and
the levels they raised, comments. The one long ticket is told through the services (200 edits, 100 comments).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

# States after raising, with their shares (open is the largest: the sweep and the transitions take open tickets).
STATE_SHARES = [
    ("open", 0.32),
    ("acknowledged", 0.14),
    ("in_progress", 0.14),
    ("waiting_on_raiser", 0.05),
    ("resolved", 0.17),
    ("closed", 0.18),
]
KIND_SHARES = [("friction", 0.4), ("resource_conflict", 0.3), ("strategic_alignment", 0.3)]
PRIORITY_SHARES = [("P1", 0.1), ("P2", 0.25), ("P3", 0.45), ("P4", 0.2)]
SPREAD_DAYS = 60


def _pick(rng: random.Random, shares: list[tuple[str, float]]) -> str:
    return rng.choices([name for name, _ in shares], weights=[share for _, share in shares])[0]


def lead():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="core")


def _request(rng: random.Random, i: int, divisions: list):
    from escalations.services.raising import Claim, Raise, Resource

    kind = _pick(rng, KIND_SHARES)
    involved = rng.sample(divisions, k=rng.choice((2, 2, 3)))
    resource, claims = None, []
    if kind == "resource_conflict":
        resource = Resource(name="GPU hours", unit="h", capacity=Decimal(400))
        claims = [
            Claim(division=d, amount=Decimal(rng.randint(50, 400)), justification=f"Bench claim {i}") for d in involved
        ]
    return Raise(
        kind=kind,
        title=f"Bench ticket {i}: {kind.replace('_', ' ')}",
        description=f"Raised by the escalations benchmark (ticket {i}). " * 3,
        priority=_pick(rng, PRIORITY_SHARES),
        raised_division=involved[0],
        divisions=involved[1:],
        resource=resource,
        claims=claims,
    )


def raise_tickets(*, count: int, seed: int, checkpoint: int, on_checkpoint: Callable[[], None]) -> float:
    """`count` tickets raised through the service, dated over the last SPREAD_DAYS days; calls `on_checkpoint`
    once `checkpoint` are raised. Returns the seconds spent raising."""
    import time

    from django.utils import timezone

    from agents.models import Division
    from escalations.services.raising import escalation_raise

    rng = random.Random(seed)
    actor, divisions, now = lead(), list(Division.objects.order_by("slug")), timezone.now()
    seconds = 0.0
    for i in range(count):
        request = _request(rng, i, divisions)
        started = time.perf_counter()
        escalation_raise(actor=actor, request=request, at=now - timedelta(seconds=rng.uniform(0, SPREAD_DAYS * 86400)))
        seconds += time.perf_counter() - started
        if i + 1 == checkpoint:
            on_checkpoint()
    return seconds


SETTLE_SQL = {
    "acknowledged": "acknowledged_at = created_at + (acknowledge_due_at - created_at) * %(f)s",
    "in_progress": "acknowledged_at = created_at + (acknowledge_due_at - created_at) * %(f)s",
    "waiting_on_raiser": "acknowledged_at = created_at + (acknowledge_due_at - created_at) * %(f)s, "
    "waiting_since = now() - interval '1 hour'",
    "resolved": "acknowledged_at = created_at + (acknowledge_due_at - created_at) * %(f)s, "
    "resolved_at = created_at + (resolve_due_at - created_at) * %(f)s",
    "closed": "acknowledged_at = created_at + (acknowledge_due_at - created_at) * %(f)s, "
    "resolved_at = created_at + (resolve_due_at - created_at) * %(f)s, closed_at = now()",
}


def spread(*, seed: int) -> dict[str, int]:
    """States, breaches (recorded as the sweep records them, each raising the level) and comments, in bulk with the
    trail's triggers on. Returns how many tickets are in each state."""
    from django.db import connection, transaction
    from django.utils import timezone

    from escalations.models import Comment, Escalation, Notification
    from novaops.audit import audited

    rng = random.Random(seed + 1)
    ids = list(Escalation.objects.order_by("pk").values_list("pk", flat=True))
    by_state: dict[str, list[int]] = {}
    for pk in ids:
        by_state.setdefault(_pick(rng, STATE_SHARES), []).append(pk)
    actor = lead()
    with transaction.atomic(), audited(actor, "bench setup"), connection.cursor() as cursor:
        for state, pks in by_state.items():
            if state == "open":
                continue
            # Acknowledged within (f < 1) or after (f > 1) the deadline: some clocks met, some missed.
            setting = SETTLE_SQL[state].replace("%(f)s", str(rng.choice((0.3, 0.6, 0.9, 1.5))))
            cursor.execute(f"UPDATE escalations_escalation SET state = %s, {setting} WHERE id = ANY(%s)", [state, pks])
        cursor.execute(_BREACHES_SQL)
        comments = [
            Comment(escalation_id=pk, author=actor, body=f"Bench comment {n} on {pk}.", created_at=timezone.now())
            for pk in ids
            for n in range(rng.choice((0, 1, 1, 2, 3)))
        ]
        Comment.objects.bulk_create(comments, batch_size=2000)
    Notification.objects.filter(sent_at__isnull=True).update(sent_at=timezone.now())  # a worker would have sent them
    counts = {state: len(pks) for state, pks in by_state.items()}
    counts["comments"] = len(comments)
    return counts


# Every deadline passed is recorded as the sweep records it (at the deadline), one level up per breach.
_BREACHES_SQL = """
UPDATE escalations_escalation SET
    acknowledge_breached_at = CASE WHEN ack THEN acknowledge_due_at END,
    resolve_breached_at = CASE WHEN res THEN resolve_due_at END,
    level = LEAST(3, level + ack::int + res::int)
FROM (
    SELECT id AS pk,
           coalesce(acknowledged_at, now()) > acknowledge_due_at AS ack,
           coalesce(resolved_at, now()) > resolve_due_at AS res
    FROM escalations_escalation
) AS due
WHERE id = due.pk AND (ack OR res)
"""


def long_ticket(*, changes: int, comments: int) -> int:
    """One ticket raised, edited `changes` times and commented `comments` times through the services; its number."""
    from agents.models import Division
    from escalations.services.changes import comment_add, escalation_update
    from escalations.services.raising import Raise, escalation_raise

    actor, divisions = lead(), list(Division.objects.order_by("slug")[:3])
    ticket = escalation_raise(
        actor=actor,
        request=Raise(
            kind="friction",
            title="Bench long timeline",
            description="The ticket with the long timeline.",
            priority="P2",
            raised_division=divisions[0],
            divisions=divisions[1:],
        ),
    )
    priorities = ["P1", "P2", "P3"]
    for i in range(changes):
        fields = {"title": f"Bench long timeline, edit {i}"}
        if i % 4 == 0:
            fields["priority"] = priorities[i // 4 % 3]
        escalation_update(number=ticket.number, actor=actor, fields=fields)
    for i in range(comments):
        comment_add(number=ticket.number, actor=actor, body=f"Comment {i} on the long ticket: **markdown** here.")
    return ticket.number


def sweep_prepare(*, count: int) -> list[int]:
    """`count` open tickets made overdue on their acknowledge clock only, at level 1, not yet swept (the trail
    records the change); asserts nothing else is due. Their ids."""
    from django.db import transaction
    from django.utils import timezone

    from escalations.models import Escalation
    from novaops.audit import audited

    now = timezone.now()
    open_ids = list(
        Escalation.objects.filter(state="open", acknowledge_breached_at__isnull=True).values_list("pk", flat=True)
    ) + list(Escalation.objects.filter(state="open").order_by("pk").values_list("pk", flat=True))
    chosen = list(dict.fromkeys(open_ids))[:count]
    with transaction.atomic(), audited(lead(), "bench setup"):
        Escalation.objects.filter(pk__in=chosen).update(
            level=1,
            acknowledge_due_at=now - timedelta(hours=1),
            resolve_due_at=now + timedelta(days=7),
            acknowledge_breached_at=None,
            resolve_breached_at=None,
        )
    return chosen
