"""Pushgateway groups: a push stores its samples as one batch, all or nothing (metrics.services.intake), and moves
its group's membership in the same transaction.

A Pushgateway holds the last values pushed to a group until the next push replaces them; NovaOps stores a point per
sample at each push instead, and remembers which series a group holds so that the end of a series is recorded:
PUT ends the group's series the push no longer has, POST (pushadd) those of the metric families it names, DELETE
all of them. Ended series keep their points.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from agents.models import Division, DivisionToken
from metrics.models import Metric, PushGroup
from metrics.services.batches import EPOCH, agents_lookup
from metrics.services.intake import Intake, samples_accept
from metrics.sources.pushgateway import Grouping, Push, push_decode
from novaops.errors import Forbidden, InvalidInput

SOURCE = "pushgateway"


@dataclass(frozen=True)
class Pushed:
    intake: Intake
    series: int  # series the push wrote (a replayed push: those its first copy wrote)
    ended: int  # series of the group the push ended


def push_accept(
    *, division: Division, token: DivisionToken | None, grouping: Grouping, body: bytes, replace: bool
) -> Pushed:
    """Store a decoded text-format body pushed to a group, as PUT (replace=True) or POST does.

    Raises InvalidInput (400: a bad body, an unknown agent), Forbidden (403: another division's agent),
    Unprocessable (422: past a cap) and TooManyRequests (429), storing nothing. The same body pushed to the same
    group by the same method within METRICS_REPLAY_WINDOW_SECONDS is taken for a retry: stored once, and the
    group is left as that first push left it.
    """
    _agent_check(division, grouping, outcome="Nothing was stored.")
    method = "PUT" if replace else "POST"
    digest = hashlib.sha256(f"{method} {grouping.describe()}\n".encode() + body).hexdigest()
    with transaction.atomic():
        group = _group_locked(division, grouping)
        # The push's time is taken under the group's lock, so a group's pushes are timed in the order they store.
        now = timezone.now()
        push = push_decode(body, grouping=grouping, ts_us=(now - EPOCH) // timedelta(microseconds=1))
        intake = samples_accept(
            division=division, token=token, samples=push.samples, source=SOURCE, digest=digest, partial=False
        )
        if intake.replayed:
            return Pushed(intake=intake, series=intake.batch.series_count, ended=0)
        held = _series_of(push, division)
        ended = _members_end(group.pk, now, keep=list(held), families=None if replace else sorted(set(push.families)))
        with connection.cursor() as cursor:
            # The series the group holds already keep their row and its start.
            cursor.execute(
                """
                INSERT INTO metrics_pushgroupseries (group_id, series_id, family, started_at)
                SELECT %s, s, f, %s FROM unnest(%s::bigint[], %s::text[]) AS u(s, f)
                ON CONFLICT DO NOTHING
                """,
                [group.pk, now, list(held), list(held.values())],
            )
    return Pushed(intake=intake, series=len(held), ended=ended)


def push_group_delete(*, division: Division, grouping: Grouping) -> int:
    """End every series the group holds (their points stay); the number ended, 0 for a group never pushed."""
    _agent_check(division, grouping, outcome="Nothing was changed.")
    with transaction.atomic():
        group = (
            PushGroup.objects.select_for_update()
            .filter(division=division, job=grouping.job, labels=grouping.labels)
            .first()
        )
        if group is None:
            return 0
        return _members_end(group.pk, timezone.now(), keep=[], families=None)


def _members_end(group_id: int, moment: datetime, *, keep: list[int], families: list[str] | None) -> int:
    """End the group's memberships but those of `keep` (only those of `families` when given): how many ended.
    Never before a membership's start, which another web host, its clock a little ahead, may have set."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE metrics_pushgroupseries SET ended_at = GREATEST(%s, started_at)
            WHERE group_id = %s AND ended_at IS NULL AND NOT series_id = ANY(%s::bigint[])
              AND (%s::text[] IS NULL OR family = ANY(%s::text[]))
            """,
            [moment, group_id, keep, families, families],
        )
        return cursor.rowcount


def _agent_check(division: Division, grouping: Grouping, *, outcome: str) -> None:
    """The agent a grouping names must be one of the token's division (samples naming agents are checked by
    samples_accept)."""
    handle = grouping.agent
    if handle is None:
        return
    found = agents_lookup({handle}).get(handle)
    if found is None:
        raise InvalidInput(f"Unknown agent {handle[:80]!r} in the grouping path. {outcome}")
    if found[1] != division.pk:
        raise Forbidden(
            f"This token acts for {division.name}; agent {handle} belongs to another division. {outcome}",
            extra={"agents": [handle]},
        )


def _group_locked(division: Division, grouping: Grouping) -> PushGroup:
    """The group's row, created on its first push, locked: pushes to one group take turns."""
    PushGroup.objects.bulk_create(
        [PushGroup(division=division, job=grouping.job, labels=grouping.labels)], ignore_conflicts=True
    )
    return PushGroup.objects.select_for_update().get(division=division, job=grouping.job, labels=grouping.labels)


def _series_of(push: Push, division: Division) -> dict[int, str]:
    """The id of each series the push wrote, with its metric family. The series exist: samples_accept took every
    point or raised. Their keys are built as Series.key documents (metric|agent|division|canonical tags)."""
    samples = push.samples
    if not len(samples):
        return {}
    metric_ids = dict(Metric.objects.filter(key__in=set(samples.keys)).values_list("key", "id"))
    agent_ids = {handle: pk for handle, (pk, _) in agents_lookup(set(samples.handles) - {None}).items()}
    families = {
        f"{metric_ids[key]}|{agent_ids[handle] if handle else ''}|{division.pk}|{tags}": family
        for key, handle, tags, family in zip(samples.keys, samples.handles, samples.tags, push.families, strict=True)
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, id FROM metrics_series WHERE key = ANY(%s)", [list(families)])
        return {series_id: families[key] for key, series_id in cursor.fetchall()}
