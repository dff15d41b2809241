"""dashboards.views.pages: the division dashboard (charts, ranking, small multiples, its ingest caps) and the agent
dashboard."""

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.views.pages import cap_tiles
from metrics.models import Metric
from metrics.selectors import DivisionCapUse
from tests.factories import AgentFactory
from tests.helpers import SESSION_SAVE_QUERIES

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def ranked(cast, land):
    """Five agents with error rates 1..5 % and throughputs 50..10 over the last hour."""
    agents = [AgentFactory(handle=f"ta_{n:05d}", callsign=f"Agent {n}", division=cast.division) for n in range(1, 6)]
    points = []
    for n, agent in enumerate(agents, start=1):
        points.append(("error_rate_pct", agent.handle, NOW - timedelta(minutes=20), float(n)))
        points.append(("throughput_tasks_per_min", agent.handle, NOW - timedelta(minutes=20), 60.0 - 10 * n))
    land(cast.division, points)
    return agents


def _division(client, **query):
    return client.get("/dashboards/divisions/novacore-runtime/", query)


@pytest.mark.parametrize("role", ["lead", "member", "other_member", "viewer"])
def test_every_role_reads_the_division_dashboard(client_as, ranked, role):
    response = _division(client_as(role))
    assert response.status_code == 200
    assert b'data-figure-url="/dashboards/figure/?' in response.content


def test_the_ranking_defaults_to_the_first_key_metric_and_follows_its_direction(client_as, ranked):
    response = _division(client_as("viewer"), range="6h")

    ranking = response.context["ranking"]
    assert ranking["metric"].key == "throughput_tasks_per_min"  # the first key metric the division reports
    assert [row.handle for row, _ in ranking["best"]] == [f"ta_0000{n}" for n in (1, 2, 3, 4, 5)]
    assert [row.handle for row, _ in ranking["worst"]][:2] == ["ta_00005", "ta_00004"]
    assert ranking["best"][0][1] == "/dashboards/agents/ta_00001/?range=6h"


def test_rank_on_a_lower_is_better_metric_puts_the_lowest_first(client_as, ranked):
    ranking = _division(client_as("viewer"), rank="error_rate_pct").context["ranking"]

    assert ranking["best"][0][0].handle == "ta_00001" and ranking["best"][0][0].value == 1.0
    assert ranking["worst"][0][0].handle == "ta_00005"
    assert "chart=multiples" in ranking["multiples"]["url"]
    assert "agent=ta_00001" in ranking["multiples"]["url"]


def test_the_range_controls_keep_the_ranked_metric(client_as, ranked):
    toolbar = _division(client_as("viewer"), rank="error_rate_pct", range="6h").context["toolbar"]

    assert all(url.endswith("&rank=error_rate_pct") for _, url, _ in toolbar["presets"])
    assert toolbar["back"].endswith("&rank=error_rate_pct") and ("rank", "error_rate_pct") in toolbar["keep"]


def test_rank_on_a_metric_the_division_does_not_report_is_a_400(client_as, ranked):
    response = _division(client_as("viewer"), rank="uptime_pct")
    assert response.status_code == 400 and b"rank" in response.content


def test_breadcrumbs_and_drill_down_keep_the_range(client_as, ranked):
    content = _division(client_as("viewer"), range="7d").content.decode()

    assert "/dashboards/compare/?group=division&amp;domain=novaops&amp;range=7d" in content
    assert 'href="/dashboards/agents/ta_00001/?range=7d"' in content


def test_an_unknown_division_is_404(client_as, ranked):
    assert client_as("viewer").get("/dashboards/divisions/nope/").status_code == 404


def test_anonymous_is_sent_to_sign_in(client, ranked):
    response = _division(client)
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_ingest_caps_tile_shows_the_divisions_use_of_its_caps(client_as, ranked):
    response = _division(client_as("viewer"))

    caps = response.context["caps"]
    assert [(tile["label"], tile["used"], tile["cap"], tile["level"]) for tile in caps["tiles"]] == [
        ("Metric names", 2, 200, "ok"),
        ("Series", 10, 20_000, "ok"),
    ]
    assert caps["needs_review"] == 0
    content = response.content.decode()
    assert (
        "Ingest caps" in content and '2 <span class="dash-tile__unit">/ 200</span>' in content and "/ 20,000" in content
    )
    assert "border-warning" not in content and "border-danger" not in content


def test_the_tile_warns_near_a_cap_and_at_it(client_as, ranked, settings):
    settings.METRICS_DIVISION_MAX_METRICS, settings.METRICS_DIVISION_MAX_SERIES = 2, 12

    response = _division(client_as("viewer"))

    assert [(tile["percent"], tile["level"]) for tile in response.context["caps"]["tiles"]] == [
        (100, "full"),
        (83, "near"),
    ]
    content = response.content.decode()
    assert "dash-tile border-danger" in content and "At the cap" in content
    assert "dash-tile border-warning" in content and "Near the cap" in content


@pytest.mark.parametrize(
    ("used", "cap", "percent", "level"),
    [(0, 200, 0, "ok"), (159, 200, 79, "ok"), (160, 200, 80, "near"), (199, 200, 99, "near"), (200, 200, 100, "full"),
     (250, 200, 125, "full"), (0, 0, 100, "full")],
)  # fmt: skip
def test_cap_levels_change_at_80_percent_and_at_the_cap_as_the_meter_does(used, cap, percent, level):
    tile = cap_tiles(DivisionCapUse(used, cap, 0, 1, 0))["tiles"][0]

    assert (tile["percent"], tile["level"]) == (percent, level)
    # The <meter>'s regions include their upper bound: half a unit below the level's threshold moves the colour there.
    if cap:
        assert float(tile["low"]) == 0.8 * cap - 0.5 and float(tile["high"]) == cap - 0.5


def test_leads_get_a_link_to_the_divisions_metrics_awaiting_review(cast, client_as, ranked, land):
    Metric.objects.create(key="http_requests", name="http_requests", discovered_from="otlp", needs_review=True)
    Metric.objects.create(key="gc_pause_seconds", name="gc", discovered_from="otlp", needs_review=True)
    land(cast.division, [("http_requests", None, NOW - timedelta(minutes=5), 1.0)])
    land(cast.other_division, [("gc_pause_seconds", None, NOW - timedelta(minutes=5), 1.0)])
    link = "/catalogue/?review=1&amp;division=novacore-runtime"

    lead = _division(client_as("lead"))
    assert lead.context["caps"]["needs_review"] == 1 and link in lead.content.decode()
    viewer = _division(client_as("viewer"))
    assert viewer.context["caps"]["needs_review"] == 1 and link not in viewer.content.decode()


@pytest.mark.parametrize("count", [3, 60])
def test_division_query_budget_whatever_the_number_of_agents(
    cast, client_as, land, django_assert_max_num_queries, count
):
    agents = AgentFactory.create_batch(count, division=cast.division)
    land(cast.division, [("error_rate_pct", a.handle, NOW - timedelta(minutes=5), 1.0) for a in agents])
    client = client_as("viewer")
    with django_assert_max_num_queries(12 + SESSION_SAVE_QUERIES):
        assert _division(client).status_code == 200


def test_the_agent_dashboard_shows_each_metric_and_the_agents_facts(client_as, ranked):
    response = client_as("member").get("/dashboards/agents/ta_00002/", {"range": "6h"})

    content = response.content.decode()
    assert response.status_code == 200
    assert {chart["id"] for chart in response.context["charts"]} == {
        "chart-error_rate_pct",
        "chart-throughput_tasks_per_min",
    }
    assert "agent=ta_00002" in response.context["charts"][0]["url"]
    assert 'href="/dashboards/divisions/novacore-runtime/?range=6h"' in content
    assert "Agent 2" in content


def test_an_unknown_or_malformed_handle_is_404(client_as, ranked):
    client = client_as("viewer")
    assert client.get("/dashboards/agents/ta_09999/").status_code == 404
    assert client.get("/dashboards/agents/not a handle/").status_code == 404


@pytest.mark.parametrize("count", [1, 60])
def test_agent_query_budget(cast, client_as, land, django_assert_max_num_queries, count):
    agents = AgentFactory.create_batch(count, division=cast.division)
    land(cast.division, [("error_rate_pct", a.handle, NOW - timedelta(minutes=5), 1.0) for a in agents])
    client = client_as("viewer")
    with django_assert_max_num_queries(6 + SESSION_SAVE_QUERIES):
        assert client.get(f"/dashboards/agents/{agents[0].handle}/").status_code == 200
