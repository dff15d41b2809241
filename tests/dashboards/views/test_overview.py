"""The ecosystem overview at `/`, its anomaly fragment, and the key-metric fragments the registry pages load."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import Agent
from dashboards.models import SavedView
from tests.factories import AgentFactory, DivisionFactory, DomainFactory

MINUTE = timedelta(minutes=1)


@pytest.fixture
def now():
    # Whole 5-minute buckets: the summary leaves out the one still filling.
    moment = timezone.now()
    return moment - timedelta(minutes=moment.minute % 5, seconds=moment.second, microseconds=moment.microsecond)


@pytest.fixture
def fleet(cast):
    orchops = DomainFactory(name="OrchOps", slug="orchops")
    workflow = DivisionFactory(domain=orchops, name="Workflow Engineering", slug="workflow-engineering")
    return {
        "runtime": cast.division,
        "workflow": workflow,
        "atlas": AgentFactory(handle="ta_00001", callsign="Atlas", division=cast.division),
        "beacon": AgentFactory(
            handle="ta_00002", callsign="Beacon", division=cast.division, lifecycle_state=Agent.Lifecycle.PAUSED
        ),
        "meridian": AgentFactory(handle="ta_00151", callsign="Meridian", division=workflow),
    }


@pytest.fixture
def reported(fleet, land, now):
    """Error rate of Atlas doubled (1 → 2 %, worse) and throughput of Meridian up (10 → 12, better) against the
    previous 24 h; Meridian stopped reporting three hours ago after a point a minute (its usual interval, over its
    last day, about 36 minutes: three of them are well short of three hours)."""
    hours = [now - timedelta(hours=h) for h in range(1, 48, 2)]
    land(
        fleet["runtime"],
        [("error_rate_pct", "ta_00001", ts, 2.0 if ts > now - timedelta(hours=24) else 1.0) for ts in hours],
    )
    last = now - timedelta(hours=3)
    land(
        fleet["workflow"],
        [
            ("throughput_tasks_per_min", "ta_00151", ts, 12.0 if ts > now - timedelta(hours=24) else 10.0)
            for ts in hours
            if ts < last
        ]
        + [("throughput_tasks_per_min", "ta_00151", last - n * MINUTE, 12.0) for n in range(1, 30)],
    )
    return fleet


# --- who may read it ---


@pytest.mark.parametrize("role", ["lead", "member", "viewer", "superuser"])
def test_every_role_reads_the_overview(client_as, role, reported):
    response = client_as(role).get("/")
    assert response.status_code == 200
    assert b"Ecosystem overview" in response.content


def test_anonymous_users_are_sent_to_sign_in(client_as):
    response = client_as("anonymous").get("/?range=7d")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/%3Frange%3D7d"


def test_a_user_without_a_role_is_refused(client_as):
    assert client_as("no_role").get("/").status_code == 403


# --- what it shows ---


CARDS, MOVERS, STOPPED = (f"/dashboards/summary/overview/{name}/" for name in ("cards", "movers", "stopped"))


def test_the_page_loads_each_panel_on_its_own_keeping_the_range(client_as, reported):
    html = client_as("viewer").get("/?range=6h").content.decode()
    for url in (CARDS, MOVERS, STOPPED, "/dashboards/summary/anomalies/"):
        assert f'hx-get="{url}?range=6h" hx-trigger="load"' in html
    assert "data-summary" in html and "Loading the top movers…" in html  # a loading state until it arrives


def test_cards_show_the_key_metrics_their_change_and_a_sparkline(client_as, reported):
    html = client_as("viewer").get(CARDS, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="domain-novaops"' in html and 'id="division-workflow-engineering"' in html
    # Error rate of NovaCore Runtime doubled: a rise of a lower-is-better metric, said in words as well as colour.
    assert '<span class="dash-change dash-change--bad">▲ 100 % (worse)' in html
    assert '<span class="dash-change dash-change--good">▲ 20 % (better)' in html
    assert "<polyline points=" in html
    # Agents by lifecycle state, and the drill-down keeping the range.
    assert "1 paused" in html
    assert 'href="/dashboards/divisions/novacore-runtime/?range=24h"' in html


def test_drill_down_links_keep_the_range(client_as, reported):
    html = client_as("viewer").get(f"{CARDS}?range=7d").content.decode()
    assert 'href="/dashboards/divisions/novacore-runtime/?range=7d"' in html


def test_top_movers_link_to_the_chart_that_shows_them_regressions_first(client_as, reported):
    movers = client_as("viewer").get(MOVERS).content.decode()
    assert movers.index("ta_00001 · Atlas") < movers.index("ta_00151 · Meridian")  # the regression first
    assert 'href="/dashboards/agents/ta_00001/?range=24h#chart-error_rate_pct"' in movers
    assert 'href="/dashboards/divisions/novacore-runtime/?range=24h#chart-error_rate_pct"' in movers


def test_stopped_reporting_lists_silent_active_agents_per_division(client_as, reported):
    stopped = client_as("viewer").get(STOPPED).content.decode()
    assert "ta_00151 · Meridian" in stopped
    assert '<a href="/dashboards/divisions/workflow-engineering/?range=24h">Workflow Engineering</a>' in stopped
    assert "ta_00001" not in stopped  # reports every 2 h and was heard from an hour ago
    assert "(3 h ago)" in stopped


def test_saved_views_are_listed_for_everyone(client_as, reported):
    SavedView.objects.create(name="Errors by domain", page="compare", query="metric=error_rate_pct&group=domain")
    html = client_as("member").get("/").content.decode()
    assert '<a href="/dashboards/compare/?metric=error_rate_pct&amp;group=domain">Errors by domain</a>' in html


def test_no_saved_views_says_so(client_as, reported):
    assert "No saved views yet." in client_as("viewer").get("/").content.decode()


def test_a_fresh_install_gets_empty_states(client_as, db):
    # Divisions (the cast's) but no metric, no saved view.
    client = client_as("superuser")
    assert "No metrics in this range yet." in client.get(CARDS).content.decode()
    assert "No moves" in client.get(MOVERS).content.decode()
    assert "Every active agent that reports is reporting." in client.get(STOPPED).content.decode()
    assert "No saved views yet." in client.get("/").content.decode()


def test_the_anomaly_list_is_a_fragment_loaded_on_its_own(client_as, reported):
    html = client_as("viewer").get("/?range=6h").content.decode()
    assert 'hx-get="/dashboards/summary/anomalies/?range=6h"' in html and 'hx-trigger="load"' in html


def test_overview_refuses_parameters_it_does_not_have(client_as, reported):
    response = client_as("viewer").get("/?metric=error_rate_pct")
    assert response.status_code == 400


# --- query budgets ---


@pytest.mark.parametrize("agents", [3, 40])
def test_the_overview_and_its_panels_cost_the_same_queries_for_few_and_many_agents(
    client_as, cast, land, now, agents, django_assert_max_num_queries
):
    handles = [f"ta_{n:05d}" for n in range(1, agents + 1)]
    for handle in handles:
        AgentFactory(handle=handle, division=cast.division)
    land(cast.division, [("error_rate_pct", h, now - timedelta(hours=k), 1.0 + k) for h in handles for k in (1, 30)])
    client = client_as("viewer")
    # Each: the session, user, role and time zone preference, then its own reads.
    for url, budget in (("/", 8), (CARDS, 12), (MOVERS, 10), (STOPPED, 9)):
        with django_assert_max_num_queries(budget):
            assert client.get(url).status_code == 200


# --- the anomaly fragment ---


def test_anomalies_fragment_lists_a_spike_with_its_size(client_as, fleet, land, now):
    points = [("error_rate_pct", "ta_00001", now - timedelta(minutes=5 * n), 1.0) for n in range(1, 60)]
    points[4] = ("error_rate_pct", "ta_00001", now - timedelta(minutes=25), 9.0)
    land(fleet["runtime"], points)
    response = client_as("viewer").get("/dashboards/summary/anomalies/?range=6h", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="/dashboards/agents/ta_00001/?range=6h#chart-error_rate_pct"' in html
    assert html.count("<tr>") == 2  # the header and one mark
    assert ">&gt; +99<" in html  # a flat line's step: clipped for display


def test_anomalies_fragment_without_anomalies_says_so(client_as, reported, django_assert_max_num_queries):
    client = client_as("viewer")
    with django_assert_max_num_queries(10):
        html = client.get("/dashboards/summary/anomalies/").content.decode()
    assert "No anomalies in this range" in html


# --- the registry pages' key metrics ---


def test_the_registry_pages_load_their_key_metrics_from_the_dashboards(client_as, reported):
    client = client_as("viewer")
    division = client.get("/registry/divisions/novacore-runtime/").content.decode()
    assert 'hx-get="/dashboards/summary/divisions/novacore-runtime/"' in division
    assert 'href="/dashboards/divisions/novacore-runtime/"' in division  # works before (or without) the fragment
    agent = client.get("/registry/agents/ta_00001/").content.decode()
    assert 'hx-get="/dashboards/summary/agents/ta_00001/"' in agent


def test_division_summary_fragment(client_as, reported, django_assert_max_num_queries):
    client = client_as("member")
    with django_assert_max_num_queries(12):
        response = client.get("/dashboards/summary/divisions/novacore-runtime/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Key metrics of NovaCore Runtime" in html
    assert '<span class="dash-change dash-change--bad">▲ 100 % (worse)' in html
    assert 'href="/dashboards/divisions/novacore-runtime/?range=24h"' in html


def test_agent_summary_fragment(client_as, reported, django_assert_max_num_queries):
    client = client_as("viewer")
    with django_assert_max_num_queries(12):
        html = client.get("/dashboards/summary/agents/ta_00151/").content.decode()
    assert '<span class="dash-change dash-change--good">▲ 20 % (better)' in html
    assert 'href="/dashboards/agents/ta_00151/?range=24h"' in html


def test_summary_fragment_of_an_agent_without_metrics(client_as, reported):
    html = client_as("viewer").get("/dashboards/summary/agents/ta_00002/").content.decode()
    assert "No key metrics reported in this range" in html


def test_summary_fragments_answer_404_for_unknown_rows(client_as, reported):
    client = client_as("viewer")
    assert client.get("/dashboards/summary/divisions/atlantis/").status_code == 404
    assert client.get("/dashboards/summary/agents/ta_99999/").status_code == 404
    assert client.get("/dashboards/summary/agents/nobody/").status_code == 404


def test_summary_fragments_send_anonymous_users_to_sign_in(client_as, reported):
    client = client_as("anonymous")
    assert client.get("/dashboards/summary/divisions/novacore-runtime/").status_code == 302
    response = client.get("/dashboards/summary/agents/ta_00001/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"].startswith("/accounts/login/")


def test_the_anomaly_list_reads_a_bounded_window_whatever_the_range(now):
    from dashboards.views.overview import anomaly_window
    from metrics.selectors import bucket_floor

    width, since, read_from = anomaly_window(now - timedelta(days=14), now)
    assert width == 3600 and since == bucket_floor(now - timedelta(hours=24), 3600)
    assert since - read_from == timedelta(hours=25)  # the trailing window the first listed bucket is judged on
    width, since, read_from = anomaly_window(now - timedelta(hours=6), now)
    assert width == 300 and since == now - timedelta(hours=6) and since - read_from == timedelta(minutes=125)


def test_anomalies_of_a_long_range_are_those_of_its_last_day(client_as, reported):
    html = client_as("viewer").get("/dashboards/summary/anomalies/?range=7d").content.decode()
    assert "No anomalies in the last 24 hours of the range" in html
