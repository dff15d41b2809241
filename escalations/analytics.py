"""The escalations' analytics, pure pandas on the frames escalations.selectors reads (no ORM, no request).

- MTTA, mean time to acknowledge: from raised to acknowledged, over the tickets acknowledged.
- MTTR, mean time to resolve: from raised to resolved less the time spent waiting on the raiser (`paused_seconds`:
  the resolve clock stands still then, and so does this measure), over the tickets resolved.
- Breach rate: the share of the tickets raised in the range that missed either deadline, by now: a breach the SLA
  job recorded, or a clock that stopped (or still runs) past its deadline. The job runs every minute, so a breach it
  has not recorded yet still counts.
- Open tickets by age: the active tickets by how long ago they were raised.

Times are measured per ticket and grouped by kind, priority or division; a ticket involving several divisions counts
once for each (each division took part in it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

# (label, upper bound of the age; None for the last bucket), in order.
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("Under 1 hour", timedelta(hours=1)),
    ("1 to 24 hours", timedelta(hours=24)),
    ("1 to 7 days", timedelta(days=7)),
    ("Over 7 days", None),
)
TIME_COLUMNS = (
    "created_at",
    "acknowledged_at",
    "resolved_at",
    "waiting_since",
    "acknowledge_due_at",
    "resolve_due_at",
    "acknowledge_breached_at",
    "resolve_breached_at",
)
TIMING_COLUMNS = ["tickets", "acknowledged", "mtta", "resolved", "mttr"]


def with_times(tickets: pd.DataFrame) -> pd.DataFrame:
    """The tickets with their times as UTC datetimes and two measures: `to_acknowledge` and `to_resolve` (the
    latter without the time waited), NaT while not acknowledged / resolved."""
    frame = tickets.copy()
    for column in TIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    paused = pd.to_timedelta(frame["paused_seconds"].astype("float64"), unit="s")
    frame["to_acknowledge"] = frame["acknowledged_at"] - frame["created_at"]
    frame["to_resolve"] = frame["resolved_at"] - frame["created_at"] - paused
    return frame


def response_times(tickets: pd.DataFrame, *, by: str, links: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per value of `by` (kind, priority, or division with `links`, the number → division pairs): how many tickets,
    how many acknowledged and their MTTA, how many resolved and their MTTR, sorted by that value."""
    frame = with_times(tickets)
    if by == "division":
        frame = frame.merge(links if links is not None else pd.DataFrame(columns=["number", "division"]), on="number")
    if frame.empty:
        return pd.DataFrame(columns=[by, *TIMING_COLUMNS])
    grouped = frame.groupby(by, sort=True)
    return pd.DataFrame(
        {
            "tickets": grouped["number"].count(),
            "acknowledged": grouped["to_acknowledge"].count(),
            "mtta": grouped["to_acknowledge"].mean(),
            "resolved": grouped["to_resolve"].count(),
            "mttr": grouped["to_resolve"].mean(),
        }
    ).reset_index()


def overall_times(tickets: pd.DataFrame) -> dict[str, object]:
    """The same measures over every ticket: tickets, acknowledged, mtta, resolved, mttr (NaT when none)."""
    frame = with_times(tickets)
    return {
        "tickets": len(frame),
        "acknowledged": int(frame["to_acknowledge"].count()),
        "mtta": frame["to_acknowledge"].mean() if len(frame) else pd.NaT,
        "resolved": int(frame["to_resolve"].count()),
        "mttr": frame["to_resolve"].mean() if len(frame) else pd.NaT,
    }


def breached(tickets: pd.DataFrame, *, now: datetime) -> pd.Series:
    """Per ticket, whether it missed either deadline by `now`. The acknowledge clock stops when acknowledged; the
    resolve clock when resolved, and stands still while the ticket waits (its deadline moves when it resumes)."""
    frame = with_times(tickets)
    moment = pd.Timestamp(now).tz_convert("UTC")
    acknowledge_end = frame["acknowledged_at"].fillna(moment)
    resolve_end = frame["resolved_at"].fillna(frame["waiting_since"]).fillna(moment)
    return (
        frame["acknowledge_breached_at"].notna()
        | frame["resolve_breached_at"].notna()
        | (acknowledge_end > frame["acknowledge_due_at"])
        | (resolve_end > frame["resolve_due_at"])
    )


def breach_rate(tickets: pd.DataFrame, *, now: datetime) -> tuple[int, int, float | None]:
    """(tickets breached, tickets, their share or None without tickets)."""
    if tickets.empty:
        return 0, 0, None
    missed = int(breached(tickets, now=now).sum())
    return missed, len(tickets), missed / len(tickets)


def age_buckets(created: list[datetime], *, now: datetime) -> list[tuple[str, int]]:
    """How many of these tickets (their raising times) fall in each AGE_BUCKETS bucket at `now`, in order."""
    ages = pd.Timestamp(now) - pd.to_datetime(pd.Series(created, dtype="object"), utc=True)
    counts = []
    lower = timedelta(0)
    for label, upper in AGE_BUCKETS:
        inside = ages >= lower if upper is None else (ages >= lower) & (ages < upper)
        counts.append((label, int(inside.sum())))
        lower = upper or lower
    return counts


def duration_text(value: object) -> str:
    """A mean duration as a person reads it: "45 min", "3 h 20 min", "2 d 4 h"; an en dash when there is none."""
    if value is None or pd.isna(value):
        return "–"
    minutes = max(0, round(pd.Timedelta(value).total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"
