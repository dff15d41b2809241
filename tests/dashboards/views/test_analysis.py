"""dashboards.views.analysis: the metric explorer and the cross-domain comparison."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from metrics.services.batches import batch_accept
from tests.factories import AgentFactory
from tests.helpers import SESSION_SAVE_QUERIES

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def land_body(django_capture_on_commit_callbacks):
    """Points with tags, through the real ingestion path (land() posts no tags)."""

    def run(division, points):
        with django_capture_on_commit_callbacks(execute=True):
            batch_accept(division=division, token=None, body=json.dumps({"points": points}).encode())

    return run


@pytest.fixture
def reported(cast, land):
    agents = [AgentFactory(handle=f"ta_{n:05d}", callsign=f"Agent {n}", division=cast.division) for n in range(1, 4)]
    land(cast.division, [("error_rate_pct", a.handle, NOW - timedelta(minutes=10), 1.0) for a in agents])
    return agents


def _figure_query(chart: dict) -> dict:
    return parse_qs(urlsplit(chart["url"]).query)


@pytest.mark.parametrize("role", ["lead", "member", "viewer"])
def test_every_role_explores(client_as, reported, role):
    assert client_as(role).get("/dashboards/explore/").status_code == 200


def test_the_explorer_form_writes_the_state_its_chart_uses(client_as, reported):
    query = {
        "metric": "error_rate_pct",
        "domain": "novaops",
        "agent": ["ta_00001", "ta_00002"],
        "tag": "region:eu",
        "group": "tag:region",
        "agg": "max",
        "range": "7d",
    }
    response = client_as("viewer").get("/dashboards/explore/", query)

    assert response.status_code == 200
    (chart,) = response.context["charts"]
    assert _figure_query(chart) == {
        "range": ["7d"],
        "metric": ["error_rate_pct"],
        "group": ["tag:region"],
        "agg": ["max"],
        "domain": ["novaops"],
        "agent": ["ta_00001", "ta_00002"],
        "tag": ["region:eu"],
    }
    content = response.content.decode()
    assert '<option value="tag:region" selected>' in content
    assert '<input type="hidden" name="range" value="7d">' in content


def test_the_pages_default_grouping_is_spelled_out_for_the_figure(client_as, reported):
    (chart,) = client_as("viewer").get("/dashboards/explore/").context["charts"]
    assert _figure_query(chart)["group"] == ["division"]
    compare = client_as("viewer").get("/dashboards/compare/").context["charts"]
    assert {_figure_query(chart)["group"][0] for chart in compare} == {"domain"}


def test_the_explorer_offers_grouping_by_each_tag_key_series_carry(cast, client_as, reported, land_body):
    land_body(
        cast.division, [{"metric": "error_rate_pct", "ts": NOW.isoformat(), "value": 1.0, "tags": {"region": "eu"}}]
    )

    response = client_as("viewer").get("/dashboards/explore/")

    values = [value for value, _ in response.context["group_choices"]]
    assert values == ["domain", "division", "agent", "tag:region"]


def test_leads_get_a_save_form_carrying_the_state_others_do_not(client_as, reported):
    lead = client_as("lead").get("/dashboards/explore/", {"metric": "error_rate_pct", "range": "6h"})
    assert lead.context["save_form"].initial == {"page": "explore", "query": "range=6h&metric=error_rate_pct"}
    assert b'action="/dashboards/views/new/"' in lead.content

    viewer = client_as("viewer").get("/dashboards/explore/")
    assert viewer.context["save_form"] is None and b'action="/dashboards/views/new/"' not in viewer.content


def test_a_bad_explorer_state_is_a_400_page_naming_it(client_as, reported):
    response = client_as("viewer").get("/dashboards/explore/", {"group": "team", "metric": "nope"})
    assert response.status_code == 400 and b"group" in response.content


def test_compare_draws_one_chart_per_metric_on_the_views_range(client_as, reported):
    response = client_as("viewer").get(
        "/dashboards/compare/", {"metric": ["error_rate_pct", "uptime_pct"], "range": "24h"}
    )

    assert [chart["id"] for chart in response.context["charts"]] == ["chart-error_rate_pct", "chart-uptime_pct"]
    assert all(_figure_query(chart)["range"] == ["24h"] for chart in response.context["charts"])
    assert response.context["share_possible"] is False
    assert b"Only for counter metrics" in response.content
    assert b'id="f-share" name="view" value="share" disabled' in response.content


def test_share_of_total_applies_to_counters_and_says_which_metrics_it_leaves(client_as, reported):
    response = client_as("viewer").get(
        "/dashboards/compare/", {"metric": ["workflow_completions", "error_rate_pct"], "view": "share"}
    )

    counter, gauge = response.context["charts"]
    assert _figure_query(counter)["view"] == ["share"] and "view" not in _figure_query(gauge)
    assert b"Share of total applies to counter metrics only; Error rate is shown as values." in response.content


@pytest.mark.parametrize("count", [3, 60])
def test_query_budgets(cast, client_as, land, django_assert_max_num_queries, count):
    agents = AgentFactory.create_batch(count, division=cast.division)
    client = client_as("lead")
    with django_assert_max_num_queries(11 + SESSION_SAVE_QUERIES):
        assert client.get("/dashboards/explore/", {"agent": agents[0].handle}).status_code == 200
    with django_assert_max_num_queries(10 + SESSION_SAVE_QUERIES):
        assert client.get("/dashboards/compare/", {"group": "division"}).status_code == 200
