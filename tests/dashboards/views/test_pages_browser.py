"""The explorer, the division ranking, the agent dashboard and saved views in headless Chromium: keyboard form, chart
table and CSV, drill-down, saving; no console error, no CSP violation, no request to another host."""

import csv
import io
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from dashboards.models import SavedView
from tests.factories import AgentFactory

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests"  # UserFactory's
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
# Reported before any script runs, so a violation during page load is caught too.
CSP_WATCH = (
    "document.addEventListener('securitypolicyviolation',"
    " e => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    return {"executable_path": "/usr/bin/chromium", "args": ["--no-sandbox", "--disable-gpu", "--no-first-run"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args) -> dict:
    return {**browser_context_args, "timezone_id": "Europe/Berlin", "viewport": {"width": 1280, "height": 720}}


@pytest.fixture
def data(transactional_db, cast, land):
    agents = [AgentFactory(handle=f"ta_{n:05d}", callsign=f"Agent {n}", division=cast.division) for n in range(1, 5)]
    points = [
        (metric, agent.handle, NOW - timedelta(minutes=5 * step + 2), base * n + step % 3)
        for n, agent in enumerate(agents, start=1)
        for step in range(24)
        for metric, base in (("error_rate_pct", 1.0), ("throughput_tasks_per_min", 10.0))
    ]
    land(cast.division, points)
    return agents


@pytest.fixture
def watched(page: Page, live_server, data):
    """(page, problems): console errors (CSP violations among them) and requests to any other host."""
    problems: list[str] = []
    local = urlsplit(live_server.url).netloc
    page.add_init_script(CSP_WATCH)
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on(
        "request",
        lambda request: (
            urlsplit(request.url).scheme in ("http", "https")
            and urlsplit(request.url).netloc != local
            and problems.append(f"request to {request.url}")
        ),
    )
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboards/explore/")
    page.get_by_label("Username").fill("lead")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page, problems


@pytest.fixture
def artifacts(tmp_path) -> Path:
    """Where the screenshots go: $NOVAOPS_TEST_ARTIFACTS when set (to keep and look at them), else the test's tmp."""
    folder = Path(os.environ.get("NOVAOPS_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _drawn(page: Page, chart_id: str) -> None:
    expect(page.locator(f"#{chart_id} .main-svg").first).to_be_attached(timeout=15_000)


def test_explore_rank_drill_down_and_save(watched, live_server, data, artifacts):
    page, problems = watched
    expect(page.get_by_role("heading", level=1)).to_have_text("Metric explorer")
    # The first page draws in the browser's zone and tells the server (a cookie): later pages are rendered in it.
    _drawn(page, "chart-throughput_tasks_per_min")

    # The view form by keyboard: group by agent, aggregation max, Enter.
    page.get_by_label("Metric", exact=True).select_option("error_rate_pct")
    page.get_by_label("Group by").select_option("agent")
    page.get_by_label("Aggregation").select_option("max")
    page.get_by_label("Tag").press("Enter")
    expect(page).to_have_url(re.compile(r"group=agent.*agg=max"))
    _drawn(page, "chart-error_rate_pct")
    expect(page.locator(".dash-toolbar__zone")).to_contain_text("Europe/Berlin")

    # The table toggle and the CSV hold the same numbers.
    page.get_by_role("button", name="Table").click()
    rows = page.locator("#chart-error_rate_pct-table tbody tr")
    expect(rows.first).to_be_visible()
    shown = rows.count()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    exported = list(csv.DictReader(io.StringIO(open(download.value.path()).read())))
    assert len(exported) == shown == 4 * len({row["ts"] for row in exported})
    assert all(row["ts"].endswith(("+01:00", "+02:00")) for row in exported)
    page.screenshot(path=artifacts / "explore.png", full_page=True)

    # Save the view (a lead), then find it in the list.
    page.get_by_label("Name").fill("Worst error rates")
    page.get_by_role("button", name="Save view").click()
    expect(page.locator(".app-messages")).to_contain_text("Saved “Worst error rates”")
    assert parse_qs(SavedView.objects.get().query)["group"] == ["agent"]

    # The division dashboard ranks its agents; the small multiples draw; drill down to the best one.
    page.goto(f"{live_server.url}/dashboards/divisions/{data[0].division.slug}/?range=6h&rank=error_rate_pct")
    _drawn(page, "chart-multiples")
    best = page.locator(".dash-rank-table").first.get_by_role("link").first
    expect(best).to_have_text("Agent 1")
    page.screenshot(path=artifacts / "division.png", full_page=True)
    best.click()
    expect(page).to_have_url(f"{live_server.url}/dashboards/agents/ta_00001/?range=6h")
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text("NovaCore Runtime")
    _drawn(page, "chart-error_rate_pct")
    page.screenshot(path=artifacts / "agent.png", full_page=True)

    assert problems == []
