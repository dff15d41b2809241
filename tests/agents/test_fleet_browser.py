"""The fleet page in a real browser: a CSV import (preview, then commit) and a bulk state change, with no console
error, no page error and no CSP violation on the way."""

import pytest
from playwright.sync_api import Page, expect

from agents.models import Agent
from agents.services.fleet import IMPORT_HEADER
from tests.factories import AgentFactory
from tests.helpers.browser import (
    browser_type_launch_args,  # noqa: F401 (the fixture, registered by the import)
    screenshot,
    sign_in,
    watch,
)

pytestmark = pytest.mark.browser

CSV = "\n".join(
    [
        ",".join(IMPORT_HEADER),
        "ta_00300,Quill,novacore-runtime,3,Runtime Engineer,active",
        "ta_00301,Rook,novacore-runtime,2,Runtime Engineer,active",
        "ta_00302,Sable,tool-ecosystem,3,Tooling Engineer,provisioning",
    ]
)


@pytest.fixture
def fleet(transactional_db, cast):
    AgentFactory(handle="ta_00001", callsign="Atlas", division=cast.division, lifecycle_state="degraded")
    AgentFactory(handle="ta_00002", callsign="Beacon", division=cast.other_division)
    return cast


def test_import_then_bulk_pause_from_the_fleet_page(page: Page, live_server, fleet):
    seen = watch(page, live_server.url)
    sign_in(page, live_server.url, "lead", next_path="/fleet/")
    expect(page.get_by_role("heading", name="Fleet", exact=True)).to_be_visible()
    expect(page.locator("#attention-title + div")).to_contain_text("ta_00001")
    screenshot(page, "fleet-overview", full_page=True)

    page.get_by_role("link", name="Import agents (CSV)").click()
    page.get_by_label("Or paste CSV").fill(CSV)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview: 3 agents to create")).to_be_visible()
    screenshot(page, "fleet-import-preview", full_page=True)
    assert not Agent.objects.filter(handle__in=["ta_00300", "ta_00301", "ta_00302"]).exists()
    page.get_by_role("button", name="Create 3 agents").click()
    expect(page.get_by_text("Imported 3 agent(s).")).to_be_visible()
    assert Agent.objects.filter(handle__in=["ta_00300", "ta_00301", "ta_00302"]).count() == 3

    page.get_by_role("link", name="Bulk change").click()
    page.get_by_label("Division", exact=True).select_option("novacore-runtime")
    page.get_by_role("button", name="Filter").click()
    page.get_by_label("ta_00300").check()
    page.get_by_label("ta_00301").check()
    page.get_by_label("Operation").select_option("transition:pause")
    page.get_by_label("Why").fill("rolling upgrade")
    page.get_by_role("button", name="Apply to ticked agents").click()
    expect(page.get_by_text("2 agent(s) changed (pause): ta_00300, ta_00301.")).to_be_visible()
    assert set(Agent.objects.filter(lifecycle_state="paused").values_list("handle", flat=True)) == {
        "ta_00300",
        "ta_00301",
    }

    # A refusal names the agent and changes nothing: ta_00300 is paused now and cannot be paused again.
    page.get_by_label("Tick every agent shown").check()
    page.get_by_label("Operation").select_option("transition:pause")
    page.get_by_role("button", name="Apply to ticked agents").click()
    expect(page.locator("#bulk-problem")).to_contain_text("ta_00300")
    seen.expect_refused_page(409)
    screenshot(page, "fleet-bulk-refused", full_page=True)
    assert Agent.objects.get(handle="ta_00001").lifecycle_state == "degraded"

    page.goto(f"{live_server.url}/fleet/")
    expect(page.locator(".fleet-events")).to_contain_text("rolling upgrade")
    screenshot(page, "fleet-after", full_page=True)
    seen.assert_clean()
