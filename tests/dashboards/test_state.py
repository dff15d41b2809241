"""dashboards.state: the view state in the URL, its round trip, its refusals and the range links."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict

from dashboards.state import ViewState, state_check_query, state_parse
from novaops.errors import InvalidInput

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
UTCZ = zoneinfo.ZoneInfo("UTC")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def parse(query: str, **kwargs) -> ViewState:
    return state_parse(QueryDict(query), tz=kwargs.pop("tz", UTCZ), now=kwargs.pop("now", NOW), **kwargs)


@pytest.mark.parametrize(
    "query",
    [
        "range=24h",
        "range=7d",
        "range=6h&metric=error_rate_pct&metric=uptime_pct&group=division&agg=max",
        "from=2026-11-30T09%3A00%3A00&to=2026-12-01T17%3A30%3A00&tz=Europe%2FBerlin",
        "range=24h&tz=Asia%2FTokyo&domain=novaops&division=a&division=b&agent=ta_00001&tag=region%3Aeu",
        "range=24h&metric=workflow_completions&group=tag%3Aregion&view=share&refresh=1m",
    ],
)
def test_round_trip(query):
    state = parse(query)
    again = parse(state.query())
    assert again == state
    assert state.query() == query


def test_without_a_range_the_default_is_written_into_links():
    assert parse("").query() == "range=24h"


def test_page_defaults_are_left_out_of_links_and_restored_from_them():
    state = parse("group=division", defaults={"group": "division", "range": "7d"})
    assert state.group == "division" and state.range == "7d" and state.query() == ""
    assert parse(state.query(), defaults={"group": "division", "range": "7d"}) == state


def test_an_absolute_range_is_read_in_the_zone_and_kept_with_it():
    state = parse("from=2026-07-01T09:00&to=2026-07-01T17:00", tz=BERLIN)
    assert state.start == datetime(2026, 7, 1, 7, 0, tzinfo=UTC) and state.range is None
    assert "tz=Europe%2FBerlin" in state.query()


def test_every_bad_parameter_is_named_at_once():
    with pytest.raises(InvalidInput) as refused:
        parse("range=soon&group=team&agg=median&view=pie&refresh=2s&tz=Mars%2FBase&tag=novalue&colour=red&range=1h")
    fields = {error["field"] for error in refused.value.errors}
    assert fields == {"range", "group", "agg", "view", "refresh", "tz", "tag", "colour"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "from"),
        ("from=2026-12-01T10:00&to=2026-12-01T10:01", "to"),
        ("from=2024-01-01T00:00&to=2026-12-01T00:00", "from"),
        ("range=1000d", "range"),
        ("range=1m", "range"),
        ("range=1h&from=2026-12-01T10:00", "range"),
        ("group=tag:", "group"),
        ("metric=" + "&metric=".join(str(n) for n in range(21)), "metric"),
    ],
)
def test_bad_ranges_and_lists_are_refused(query, field):
    with pytest.raises(InvalidInput) as refused:
        parse(query)
    assert field in {error["field"] for error in refused.value.errors}


def test_unknown_parameters_are_refused_unless_the_page_allows_them():
    with pytest.raises(InvalidInput, match="chart: is not a parameter"):
        parse("chart=share")
    assert parse("range=1h", allowed=frozenset({"range"})).range == "1h"


def test_presets_shift_and_zoom_out(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    state = parse("range=24h&metric=uptime_pct")

    assert state.with_range("7d") == "range=7d&metric=uptime_pct"
    back = parse(state.shifted(-1))
    assert (back.start, back.end, back.range) == (NOW - timedelta(hours=36), NOW - timedelta(hours=12), None)
    assert parse(state.shifted(+1)).end == NOW  # forward never passes now
    assert state.zoomed_out() == "range=2d&metric=uptime_pct"
    wide = parse(parse(state.shifted(-1)).zoomed_out())
    assert wide.length == timedelta(hours=48) and wide.end == NOW


def test_a_saved_query_is_checked_and_kept_without_its_question_mark():
    assert state_check_query("?range=7d&group=division") == "range=7d&group=division"
    with pytest.raises(InvalidInput):
        state_check_query("range=never")
