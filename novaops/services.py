"""Writes of the shared core."""

from datetime import datetime, timedelta

from django.db import connection


def heartbeat_run(*, component: str, at: datetime, gap: timedelta) -> datetime:
    """Record a beat of `component` at `at` and return when its current unbroken run began: a beat more than `gap`
    after the previous one (the component, or all of NovaOps, was down) starts a new run. One statement, so two
    beats at once agree; a beat older than the newest one changes nothing."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO novaops_heartbeat AS h (component, seen_at, since, detail) VALUES (%(c)s, %(at)s, %(at)s, '')
            ON CONFLICT (component) DO UPDATE SET
                since = CASE WHEN h.since IS NULL OR h.seen_at < %(at)s - %(gap)s THEN %(at)s ELSE h.since END,
                seen_at = GREATEST(h.seen_at, %(at)s)
            RETURNING since
            """,
            {"c": component, "at": at, "gap": gap},
        )
        return cursor.fetchone()[0]
