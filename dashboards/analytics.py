"""Analytics on series_aggregate frames, in pandas: pure functions, no ORM, tested on known series.

Anomaly marks: a point is marked when it breaks from its own series' recent behaviour, measured robustly (median
and median absolute deviation over a trailing window that does not include the point itself), so one spike neither
hides itself nor marks the points after it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.selectors import GROUP_COLUMNS

# Trailing window (in buckets of the frame's resolution), and how many of them a verdict needs.
ANOMALY_WINDOW = 24
ANOMALY_MIN_PERIODS = 12
# |value − median| in robust standard deviations (1.4826 × MAD estimates σ for normal noise) that counts as a break.
ANOMALY_THRESHOLD = 5.0
_MAD_TO_SIGMA = 1.4826
# The smallest scale a line's deviations are measured in, as a share of its level: with the threshold, a point must
# move at least 5 % from a flat line's level to be marked.
ANOMALY_MIN_SCALE = 0.01
# Charts of more lines than this get no marks: among 150 tangled lines a red circle says nothing a reader can act
# on (the overview lists the largest anomalies instead), and the rolling statistics would cost more than the query.
ANOMALY_MAX_LINES = 50


def _series_keys(frame: pd.DataFrame) -> list[str]:
    """The columns that identify one line of a frame: the metric and the group's identity columns."""
    for group, columns in GROUP_COLUMNS.items():
        if columns[0] in frame.columns and (group != "agent" or "callsign" in frame.columns):
            return ["metric", *columns[:1], *(["division"] if group == "agent" else [])]
    raise ValueError("not a series_aggregate frame")


def _columns(values: pd.Series, ids: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values as a 2-D array, one column per line (`ids`) in row order, NaN-padded, with each value's
    (row, column) position: rolling statistics then run over all lines at once rather than line by line."""
    column = pd.factorize(ids, sort=False)[0]
    row = pd.Series(column).groupby(column).cumcount().to_numpy()
    grid = np.full((row.max() + 1 if len(row) else 0, column.max() + 1 if len(column) else 0), np.nan)
    grid[row, column] = values.to_numpy(dtype="float64")
    return grid, row, column


def _trailing_median(grid: np.ndarray, *, window: int, min_periods: int) -> np.ndarray:
    """Per column, the median of the `window` values before each row (the row itself excluded)."""
    previous = pd.DataFrame(grid).shift(1)
    return previous.rolling(window, min_periods=min_periods).median().to_numpy()


def anomaly_scores(
    values: pd.Series,
    ids: pd.Series | None = None,
    *,
    window: int = ANOMALY_WINDOW,
    min_periods: int = ANOMALY_MIN_PERIODS,
) -> pd.Series:
    """Each value's distance from the median of the `window` values before it in its line (`ids`, one line when
    None), in robust deviations; NaN until `min_periods` values came before. A line that was flat has a MAD of
    zero: its scale falls back to ANOMALY_MIN_SCALE of its level, so a departure of a few per cent from a flat line
    scores high, the line itself zero, and a line pinned at a ceiling (a success rate at 100 %) does not turn every
    tenth of a point below it into an anomaly."""
    ids = pd.Series(0, index=values.index) if ids is None else ids
    grid, row, column = _columns(values, ids)
    median = _trailing_median(grid, window=window, min_periods=min_periods)
    deviation = np.abs(grid - median)
    mad = _trailing_median(deviation, window=window, min_periods=min_periods)
    scale = np.maximum(_MAD_TO_SIGMA * mad, np.maximum(np.abs(median) * ANOMALY_MIN_SCALE, 1e-9))
    scores = (grid - median) / scale
    return pd.Series(scores[row, column], index=values.index)


def anomaly_marks(
    frame: pd.DataFrame,
    *,
    window: int = ANOMALY_WINDOW,
    min_periods: int = ANOMALY_MIN_PERIODS,
    threshold: float = ANOMALY_THRESHOLD,
) -> pd.DataFrame:
    """The rows of `frame` (series_aggregate's shape) whose anomaly score exceeds `threshold`, with a `score`
    column (signed: above or below the usual), ordered like the frame."""
    if frame.empty:
        return frame.assign(score=pd.Series(dtype="float64"))
    # series_aggregate orders rows by metric, group and bucket: each line's rows are contiguous and in time order.
    ids = frame.groupby(_series_keys(frame), sort=False, dropna=False).ngroup()
    scores = anomaly_scores(frame["value"].astype("float64"), ids, window=window, min_periods=min_periods)
    marked = frame.assign(score=scores)
    return marked[marked["score"].abs() > threshold]


# --- the overview's summaries: change against the previous period, top movers, stopped reporting ---

# A change smaller than this (relative) is "flat": noise, not a move worth a colour.
FLAT_BELOW = 0.01
# Top movers divide by max(|previous|, MOVER_FLOOR × the metric's median |previous| at that level): an agent going
# from 0.01 % to 0.2 % errors is a 1,900 % change that says less than a division going from 1 % to 3 %.
MOVER_FLOOR = 0.1
# Stopped reporting: silent for more than this many of its usual intervals, and at least STOPPED_MINIMUM.
STOPPED_INTERVALS = 3
STOPPED_MINIMUM_SECONDS = 15 * 60
# A flat line's MAD falls back to a hundredth of its level (anomaly_scores), so a step from it can score in the
# hundreds: for display the size is clipped here ("> 99 σ").
SCORE_DISPLAY_MAX = 99.0


def relative_change(current: pd.Series, previous: pd.Series) -> pd.Series:
    """(current − previous) / |previous|; NaN without a previous value, or from zero to anything else (0 to 0 is 0)."""
    current, previous = current.astype("float64"), previous.astype("float64")
    change = (current - previous) / previous.abs().where(previous != 0)
    return change.mask((previous == 0) & (current == 0), 0.0)


def change_tone(change: float, better: str) -> str:
    """good / bad / neutral / flat for a relative change of a metric whose `better` is higher, lower or neutral: a
    rise in a lower-is-better metric (error rate) is bad, in a higher-is-better one (throughput) good."""
    if change is None or pd.isna(change) or abs(change) < FLAT_BELOW:
        return "flat"
    if better not in ("higher", "lower"):
        return "neutral"
    return "good" if (change > 0) == (better == "higher") else "bad"


def change_tones(change: pd.Series, better: pd.Series) -> pd.Series:
    """change_tone for whole columns at once (`better` row by row)."""
    flat = change.isna() | (change.abs() < FLAT_BELOW)
    directed = better.isin(["higher", "lower"])
    good = (change > 0) == (better == "higher")
    tones = np.select([flat, ~directed, good], ["flat", "neutral", "good"], default="bad")
    return pd.Series(tones, index=change.index, dtype=object)


def summary_regroup(summary: pd.DataFrame, by: pd.Series, name: str) -> pd.DataFrame:
    """An agent-level period_summary added up to another level: `by` gives each row's group (e.g. its division's
    domain); sums and counts add exactly, so values are what a read at that level would give."""
    grouped = (
        summary.assign(**{name: by.to_numpy()})
        .groupby(["metric", "kind", name, "period"], sort=True, dropna=False)[["sum", "count"]]
        .sum()
        .reset_index()
    )
    average = grouped["sum"] / grouped["count"].where(grouped["count"] > 0)
    grouped["value"] = grouped["sum"].where(grouped["kind"] == "counter", average).astype("float64")
    return grouped


def period_changes(summary: pd.DataFrame, keys: list[str], better: dict[str, str]) -> pd.DataFrame:
    """One row per (metric, group `keys`) with a value in either period: `current`, `previous`, `change` (relative)
    and `tone`. (Two aligned columns rather than a pivot_table: a tenth of the time on an overview's rows.)"""
    index = ["metric", *keys]
    periods = summary.set_index(index)
    wide = pd.concat(
        [
            periods.loc[periods["period"] == "current", "value"].rename("current"),
            periods.loc[periods["period"] == "previous", "value"].rename("previous"),
        ],
        axis=1,
    ).reset_index()
    wide["change"] = relative_change(wide["current"], wide["previous"])
    wide["tone"] = change_tones(wide["change"], wide["metric"].map(better).fillna("neutral"))
    return wide


def top_movers(changes: pd.DataFrame, better: dict[str, str], *, limit: int = 10) -> pd.DataFrame:
    """The largest relative changes of `changes` (period_changes rows with `level`, `key`, `label`), regressions
    first, then improvements, then the rest, each by |change| (floored, see MOVER_FLOOR) descending."""
    rows = changes.dropna(subset=["current", "previous"]).copy()
    if rows.empty:
        return rows.assign(score=pd.Series(dtype="float64"))
    base = rows["previous"].abs()
    typical = base.groupby([rows["metric"], rows["level"]]).transform("median")
    floor = np.maximum(MOVER_FLOOR * typical, 1e-9)
    rows["score"] = (rows["current"] - rows["previous"]) / np.maximum(base, floor)
    rows["tone"] = [
        change_tone(s, better.get(m, "neutral")) for s, m in zip(rows["score"], rows["metric"], strict=True)
    ]
    rows = rows[rows["tone"] != "flat"]
    rank = rows["tone"].map({"bad": 0, "good": 1}).fillna(2)
    ordered = rows.assign(_rank=rank, _size=-rows["score"].abs()).sort_values(["_rank", "_size", "key"], kind="stable")
    return ordered.drop(columns=["_rank", "_size"]).head(limit).reset_index(drop=True)


def stopped_reporting(cadence: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """The agents of `cadence` (selectors.reporting_cadence) silent for more than STOPPED_INTERVALS of their usual
    interval and at least STOPPED_MINIMUM_SECONDS, with `silent_seconds`; by division, longest silence first. Only
    active agents: a paused or retired one is expected to be quiet."""
    if cadence.empty:
        return cadence.assign(silent_seconds=pd.Series(dtype="float64"))
    silent = (now - cadence["last_seen"]).dt.total_seconds()
    allowed = np.maximum(STOPPED_INTERVALS * cadence["interval_seconds"].fillna(0), STOPPED_MINIMUM_SECONDS)
    stopped = cadence.assign(silent_seconds=silent)[(silent > allowed) & (cadence["state"] == "active")]
    return stopped.sort_values(["division", "silent_seconds"], ascending=[True, False]).reset_index(drop=True)


def anomaly_list(marks: pd.DataFrame, *, limit: int = 10) -> pd.DataFrame:
    """The largest anomaly marks (anomaly_marks rows), by |score|, the most recent first among equals, with
    `display_score` clipped to ±SCORE_DISPLAY_MAX and `clipped` saying so."""
    if marks.empty:
        return marks.assign(display_score=pd.Series(dtype="float64"), clipped=pd.Series(dtype=bool))
    ordered = marks.assign(_size=-marks["score"].abs()).sort_values(["_size", "bucket"], ascending=[True, False])
    top = ordered.drop(columns="_size").head(limit).reset_index(drop=True)
    return top.assign(
        display_score=top["score"].clip(-SCORE_DISPLAY_MAX, SCORE_DISPLAY_MAX),
        clipped=top["score"].abs() > SCORE_DISPLAY_MAX,
    )


def line_averages(buckets: pd.DataFrame, by: pd.Series, name: str) -> pd.DataFrame:
    """Per-bucket sums and counts (selectors.division_buckets) added up by `by` (the division itself, or its
    domain) into one average per (metric, `name`, bucket), in line and time order: a sparkline's points."""
    totals = (
        buckets.assign(**{name: by.to_numpy()}).groupby(["metric", name, "bucket"], sort=True)[["sum", "count"]].sum()
    )
    return (totals["sum"] / totals["count"].where(totals["count"] > 0)).rename("value").reset_index()
