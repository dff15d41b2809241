"""Escalations on the dashboards in headless Chromium: the overview's panel loads, and a ticket about a division is
marked on that division's charts (a dotted line and its key, and a link under the chart), and a ticket linking a
metric on the comparison's chart of it; no console error, no CSP violation, no request to another host."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from escalations.models import EscalationMetric
from metrics.models import Metric
from tests.helpers.browser import Watch, browser_type_launch_args, screenshot, sign_in, watch  # noqa: F401

pytestmark = pytest.mark.browser

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def ticket(transactional_db, org, land, raise_ticket):
    """Error rates of two runtime agents over the last two hours, and a conflict raised by runtime 40 minutes ago."""
    handles = [org.runtime.lead.handle, org.runtime_lead.person.agent.handle]
    land(
        org.runtime,
        [
            ("error_rate_pct", handle, NOW - timedelta(minutes=5 * step + 2), 1.0 + n + step % 3)
            for n, handle in enumerate(dict.fromkeys(handles))
            for step in range(24)
        ],
    )
    # Its created_at is the real clock's: raised now, it lies inside the chart's range.
    return raise_ticket(priority="P1", title="GPU hours for the runtime canary")


@pytest.fixture
def watched(page: Page, live_server, ticket) -> Watch:
    seen = watch(page, live_server.url)
    sign_in(page, live_server.url, username="runtime-lead", next_path="/")
    return seen


def test_the_overview_panel_and_a_division_chart_show_the_ticket(watched, live_server, ticket, org):
    page = watched.page
    panel = page.locator("section[aria-labelledby=escalations-title]")
    expect(panel.get_by_role("link", name=ticket.key)).to_be_visible(timeout=15_000)
    expect(panel).to_contain_text("Assigned to you")

    watched.goto(f"{live_server.url}/dashboards/divisions/{org.runtime.slug}/?range=6h")
    chart = page.locator("#chart-error_rate_pct")
    expect(chart.locator(".main-svg").first).to_be_attached(timeout=15_000)
    expect(chart.locator(".annotation-text", has_text=ticket.key)).to_be_attached(timeout=15_000)
    expect(chart.locator("path[style*='dash']").first).to_be_attached()
    link = page.locator("#chart-error_rate_pct-escalations").get_by_role("link", name=ticket.key)
    expect(link).to_have_attribute("href", f"/escalations/{ticket.number}/")
    screenshot(page, "escalation-annotation")

    # On the comparison, a chart is a metric's: the tickets linking that metric are marked.
    EscalationMetric.objects.create(escalation=ticket, metric=Metric.objects.get(key="error_rate_pct"))
    watched.goto(f"{live_server.url}/dashboards/compare/?metric=error_rate_pct&range=6h")
    expect(page.locator("#chart-error_rate_pct .annotation-text", has_text=ticket.key)).to_be_attached(timeout=15_000)
    watched.assert_clean()
