"""Ranking agents on one metric over a range: pure pandas on a series_aggregate frame grouped by agent.

Each agent's number is the mean of its buckets for gauges (the level it ran at) and the sum for counters (the work
it did), so the ranking reads like the chart. Best means the metric's `better` direction; a neutral metric ranks
highest first.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Ranked:
    handle: str
    callsign: str
    value: float


def agent_totals(frame: pd.DataFrame, *, kind: str) -> pd.Series:
    """One number per agent handle (division-level rows left out), NaN-free."""
    rows = frame[frame["agent"].notna() & frame["value"].notna()]
    if rows.empty:
        return pd.Series(dtype="float64")
    grouped = rows.groupby(["agent", "callsign"], dropna=False, sort=True)["value"]
    return (grouped.sum() if kind == "counter" else grouped.mean()).astype("float64")


def rank_agents(frame: pd.DataFrame, *, better: str, kind: str, count: int) -> tuple[list[Ranked], list[Ranked]]:
    """(best, worst): up to `count` agents each, best first in `best` and worst first in `worst`; an agent is in
    both only when there are fewer than 2 × count agents. Ties keep handle order."""
    totals = agent_totals(frame, kind=kind)
    if totals.empty:
        return [], []
    descending = better != "lower"  # "higher" and neutral: the highest first
    ordered = totals.sort_values(ascending=not descending, kind="stable")
    ranked = [Ranked(handle=str(h), callsign=str(c or ""), value=float(v)) for (h, c), v in ordered.items()]
    return ranked[:count], list(reversed(ranked))[:count]
