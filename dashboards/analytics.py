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
    zero: its scale falls back to a millionth of its level, so any real departure from a flat line scores high and
    the line itself scores zero."""
    ids = pd.Series(0, index=values.index) if ids is None else ids
    grid, row, column = _columns(values, ids)
    median = _trailing_median(grid, window=window, min_periods=min_periods)
    deviation = np.abs(grid - median)
    mad = _trailing_median(deviation, window=window, min_periods=min_periods)
    scale = np.maximum(_MAD_TO_SIGMA * mad, np.maximum(np.abs(median), 1.0) * 1e-6)
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
