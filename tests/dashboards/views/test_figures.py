"""dashboards.views.figures: the chart endpoint's JSON and CSV, its empty reasons, its refusals and its budget."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import AgentFactory
from tests.helpers import SESSION_SAVE_QUERIES, assert_problem

URL = "/dashboards/figure/"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def agents(cast):
    return [AgentFactory(handle=f"ta_{n:05d}", callsign=f"Agent {n}", division=cast.division) for n in range(1, 4)]


@pytest.fixture
def landed(cast, agents, land):
    """200 minutes of error rates, one point every 5 minutes, for three agents; one spike on ta_00001 (late enough
    for the anomaly detector's trailing window to have filled)."""
    points = []
    for agent_no, agent in enumerate(agents):
        for step in range(40):
            ts = NOW - timedelta(minutes=200 - 5 * step)
            value = 100.0 if (agent_no == 0 and step == 32) else 1.0 + agent_no
            points.append(("error_rate_pct", agent.handle, ts, value))
        points.append(("workflow_completions", agent.handle, NOW - timedelta(minutes=30), 10.0 * (agent_no + 1)))
    land(cast.division, points)
    return agents


def test_json_is_a_plotly_figure_with_a_line_per_agent_and_meta(client_as, landed):
    response = client_as("viewer").get(URL, {"metric": "error_rate_pct", "range": "4h", "tz": "Europe/Berlin"})

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    lines = [t for t in body["figure"]["data"] if t.get("mode") == "lines"]
    assert [t["name"] for t in lines] == ["ta_00001 · Agent 1", "ta_00002 · Agent 2", "ta_00003 · Agent 3"]
    assert all(t["type"] == "scatter" for t in body["figure"]["data"])
    assert body["figure"]["layout"]["xaxis"]["title"]["text"] == "Time (Europe/Berlin)"
    assert body["meta"]["resolution_seconds"] == 300
    assert body["meta"]["empty"] is None


def test_the_spike_is_marked_as_an_anomaly(client_as, landed):
    body = client_as("viewer").get(URL, {"metric": "error_rate_pct", "range": "4h"}).json()

    marks = [t for t in body["figure"]["data"] if t["name"] == "Anomalies"]
    assert body["meta"]["anomalies"] == 1 and len(marks) == 1 and marks[0]["y"] == [100.0]


def test_csv_holds_exactly_the_charts_points_in_the_charts_zone(client_as, landed):
    client = client_as("viewer")
    params = {"metric": "error_rate_pct", "range": "4h", "tz": "America/New_York", "group": "division"}
    figure = client.get(URL, params).json()["figure"]
    response = client.get(URL, {**params, "format": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    line = next(t for t in figure["data"] if t["mode"] == "lines")
    assert [row["ts"][:19] for row in rows] == line["x"]
    assert [float(row["value"]) for row in rows] == pytest.approx(line["y"])
    assert all(row["ts"].endswith(("-04:00", "-05:00")) for row in rows)


def test_share_chart_stacks_to_percent(client_as, landed):
    body = client_as("viewer").get(URL, {"metric": "workflow_completions", "range": "4h", "chart": "share"}).json()

    assert {t["stackgroup"] for t in body["figure"]["data"]} == {"share"}
    assert {t["groupnorm"] for t in body["figure"]["data"]} == {"percent"}


def test_multiples_draw_a_subplot_per_agent_titled_with_a_link(client_as, landed):
    body = client_as("viewer").get(URL, {"metric": "error_rate_pct", "range": "4h", "chart": "multiples"}).json()

    assert len(body["figure"]["data"]) == 3
    titles = [a["text"] for a in body["figure"]["layout"]["annotations"]]
    assert titles[0].startswith('<a href="/dashboards/agents/ta_00001/?range=4h')


def test_empty_reason_never(client_as, agents):
    body = client_as("viewer").get(URL, {"metric": "uptime_pct", "agent": "ta_00001"}).json()
    assert body["meta"]["empty"]["reason"] == "never"


def test_empty_reason_range_when_data_came_after_the_range(client_as, landed):
    query = {
        "metric": "error_rate_pct",
        "from": (NOW - timedelta(days=3)).isoformat(),
        "to": (NOW - timedelta(days=2)).isoformat(),
    }
    body = client_as("viewer").get(URL, query).json()
    assert body["meta"]["empty"]["reason"] == "range"


def test_empty_reason_stopped_names_when_an_agent_last_reported_before_the_range(cast, client_as, agents, land):
    last = NOW - timedelta(days=3)
    land(cast.division, [("uptime_pct", "ta_00002", last - timedelta(minutes=5 * n), 99.0) for n in range(3)])

    body = (
        client_as("viewer").get(URL, {"metric": "uptime_pct", "agent": "ta_00002", "range": "24h", "tz": "UTC"}).json()
    )

    assert body["meta"]["empty"]["reason"] == "stopped"
    assert body["meta"]["empty"]["last_seen"].startswith(last.strftime("%Y-%m-%dT%H:%M"))
    assert f"reporting stopped at {last:%Y-%m-%d %H:%M} (UTC)" in body["meta"]["empty"]["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"range": "1h"}, "metric"),
        ({"metric": ["error_rate_pct", "uptime_pct"]}, "metric"),
        ({"metric": "error_rate_pct", "chart": "pie"}, "chart"),
        ({"metric": "error_rate_pct", "format": "xml"}, "format"),
        ({"metric": "error_rate_pct", "chart": "multiples", "group": "division"}, "group"),
        ({"metric": "error_rate_pct", "range": "soon"}, "range"),
        ({"metric": "error_rate_pct", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_state_is_a_400_problem_naming_the_parameter(client_as, agents, query, field):
    response = client_as("viewer").get(URL, query, HTTP_ACCEPT="application/json")
    body = assert_problem(response, 400)
    assert field in {error["field"] for error in body["errors"]}


def test_a_bad_state_is_a_400_page_for_a_browser(client_as, agents):
    response = client_as("viewer").get(URL, {"metric": "error_rate_pct", "range": "soon"}, HTTP_ACCEPT="text/html")
    assert response.status_code == 400 and b"range" in response.content and b"<html" in response.content


def test_an_unknown_metric_is_a_400_naming_it(client_as, agents):
    response = client_as("viewer").get(URL, {"metric": "nope"}, HTTP_ACCEPT="application/json")
    assert "nope" in assert_problem(response, 400)["detail"]


def test_anonymous_is_sent_to_sign_in(client, agents):
    response = client.get(URL, {"metric": "error_rate_pct"})
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize("count", [3, 40])
def test_query_budget_whatever_the_number_of_agents(cast, client_as, land, django_assert_max_num_queries, count):
    AgentFactory.create_batch(count, division=cast.division)
    handles = list(cast.division.agents.values_list("handle", flat=True))
    land(cast.division, [("error_rate_pct", h, NOW - timedelta(minutes=10), 1.0) for h in handles])
    client = client_as("viewer")
    # session, user, person, time zone preference; the metric; count and aggregate; then the session save
    with django_assert_max_num_queries(7 + SESSION_SAVE_QUERIES):
        response = client.get(URL, {"metric": "error_rate_pct", "range": "1h"})
    assert response.status_code == 200 and len(response.json()["figure"]["data"]) == count
