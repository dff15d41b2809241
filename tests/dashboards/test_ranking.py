"""dashboards.ranking: agents ranked on one metric by its direction."""

import pandas as pd

from dashboards.ranking import agent_totals, rank_agents

T = pd.Timestamp("2026-07-01T10:00:00Z")


def frame(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"metric": "m", "agent": handle, "callsign": handle.upper(), "division": "d", "bucket": T, "value": v}
        for handle, series in values.items()
        for v in series
    ]
    rows.append({"metric": "m", "agent": None, "callsign": None, "division": "d", "bucket": T, "value": 1e9})
    return pd.DataFrame(rows)


def test_gauges_rank_on_their_mean_counters_on_their_sum_division_level_rows_ignored():
    data = frame({"a": [1.0, 3.0], "b": [5.0]})
    assert agent_totals(data, kind="gauge").to_dict() == {("a", "A"): 2.0, ("b", "B"): 5.0}
    assert agent_totals(data, kind="counter").to_dict() == {("a", "A"): 4.0, ("b", "B"): 5.0}


def test_lower_is_better_puts_the_lowest_first():
    best, worst = rank_agents(frame({"a": [3.0], "b": [1.0], "c": [2.0]}), better="lower", kind="gauge", count=2)
    assert [r.handle for r in best] == ["b", "c"] and [r.handle for r in worst] == ["a", "c"]


def test_higher_and_neutral_put_the_highest_first():
    data = frame({"a": [3.0], "b": [1.0], "c": [2.0]})
    for better in ("higher", "neutral"):
        best, worst = rank_agents(data, better=better, kind="gauge", count=1)
        assert (best[0].handle, best[0].value, worst[0].handle) == ("a", 3.0, "b")


def test_nothing_to_rank():
    assert rank_agents(frame({}), better="lower", kind="gauge", count=3) == ([], [])
