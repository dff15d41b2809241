"""The registry pages in a real browser: sign in, live search, agent page, keyboard, no request leaves the machine."""

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from agents.models import DivisionToken
from tests.factories import AgentFactory, DomainFactory
from tests.helpers.browser import (
    PASSWORD,
    Watch,
    browser_type_launch_args,  # noqa: F401 (the fixture, registered by the import)
    watch,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def org(transactional_db, cast):
    """A few agents around the cast (whose users sign in with UserFactory's password)."""
    novaops = cast.division.domain
    core = AgentFactory(handle="ta_00008", callsign="Core", tier=1, division=cast.division, role_title="Tier 1 Lead")
    novaops.lead = core
    novaops.save()
    AgentFactory(handle="ta_00011", callsign="Kestrel", division=cast.division, role_title="Runtime Engineer")
    AgentFactory(handle="ta_00082", callsign="Kestrel 3", division=cast.other_division, lifecycle_state="retired")
    AgentFactory.create_batch(60, division=cast.other_division)
    DomainFactory(name="OrchOps", slug="orchops")
    return cast


@pytest.fixture
def requests_seen(page: Page, live_server) -> Watch:
    """Every request, console error, page error and CSP violation of the test's pages (requests elsewhere aborted)."""
    return watch(page, live_server.url)


@pytest.fixture
def signed_in(page: Page, live_server, org, requests_seen) -> Iterator[Page]:
    """Sign in through the real form, starting from the agent list (which sends us to the form first)."""
    page.goto(f"{live_server.url}/registry/agents/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/registry/agents/")
    page.get_by_label("Username").fill("lead")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/registry/agents/")
    # The deferred scripts (htmx, app.js) have run: keyboard and live-search steps meet the finished page.
    page.wait_for_load_state("load")
    yield page


def _only_local(seen: Watch | list[str], live_server) -> None:
    """Nothing asked of another host; for a watched page also no console error, page error or CSP violation."""
    if isinstance(seen, Watch):
        seen.assert_clean()
        return
    local = urlsplit(live_server.url).netloc
    elsewhere = [url for url in seen if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).netloc != local]
    assert seen, "no request was recorded"
    assert elsewhere == []


def test_sign_in_live_search_and_agent_page(signed_in: Page, live_server, requests_seen):
    page = signed_in
    expect(page.get_by_role("heading", level=1)).to_have_text("Agents")
    expect(page.locator(".app-user")).to_contain_text("lead")
    expect(page.locator(".app-user")).to_contain_text("Tier 1 lead")
    expect(page.locator("#agent-results tbody tr")).to_have_count(50)

    # Paging swaps the results in place too (63 agents: 50 + 13).
    page.get_by_role("link", name="Next").first.click()
    expect(page).to_have_url(f"{live_server.url}/registry/agents/?page=2")
    expect(page.locator("#agent-results tbody tr")).to_have_count(13)

    # Live search: typing a callsign swaps the results in place and pushes a clean URL.
    page.get_by_role("searchbox", name="Search").fill("kestrel")
    expect(page.locator("#agent-results tbody tr")).to_have_count(2)
    expect(page).to_have_url(f"{live_server.url}/registry/agents/?q=kestrel")
    expect(page.locator("#results-status")).to_have_text("2 agents found.")
    expect(page.locator("#agent-results")).to_contain_text("Kestrel 3")
    expect(page.locator("#agent-results")).to_contain_text("Retired")

    # Narrow by lifecycle state with the select: still live.
    page.get_by_label("Lifecycle state").select_option("active")
    expect(page.locator("#agent-results tbody tr")).to_have_count(1)
    expect(page).to_have_url(f"{live_server.url}/registry/agents/?q=kestrel&lifecycle_state=active")

    # The agent page.
    page.get_by_role("link", name="ta_00011").click()
    expect(page).to_have_url(f"{live_server.url}/registry/agents/ta_00011/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Kestrel")
    details = page.locator(".app-details")
    for text in ["ta_00011", "Active", "Tier 3", "Runtime Engineer", "NovaCore Runtime", "NovaOps", "None linked"]:
        expect(details).to_contain_text(text)
    expect(page.get_by_role("link", name="Edit agent")).to_be_visible()

    # Back to the search: the pushed URL restores the filtered list.
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/registry/agents/?q=kestrel&lifecycle_state=active")
    expect(page.locator("#agent-results tbody tr")).to_have_count(1)

    _only_local(requests_seen, live_server)


def test_live_search_shows_a_loading_indicator(signed_in: Page, live_server, requests_seen):
    page = signed_in
    indicator = page.locator("#search-indicator")
    expect(indicator).to_be_hidden()

    held: list[Route] = []
    page.route("**/agents/?q=*", lambda route: held.append(route))
    page.get_by_role("searchbox", name="Search").fill("core")
    expect(indicator).to_be_visible()
    expect(page.locator("#agent-results")).to_have_attribute("aria-busy", "true")

    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/agents/?q=*")
    expect(page.locator("#agent-results tbody tr")).to_have_count(1)
    expect(indicator).to_be_hidden()
    _only_local(requests_seen, live_server)


def test_bad_filter_in_the_address_shows_the_error_next_to_the_field(signed_in: Page, live_server):
    page = signed_in
    response = page.goto(f"{live_server.url}/registry/agents/?division=atlantis")

    assert response is not None and response.status == 400
    expect(page.locator("#id_division_error")).to_have_text("No division with slug 'atlantis'.")
    expect(page.get_by_label("Division", exact=True)).to_have_attribute("aria-invalid", "true")


def test_keyboard_skip_link_and_sign_out(signed_in: Page, live_server, requests_seen):
    page = signed_in
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    # Past the header: the next stop is the first link of the main content (the breadcrumb), then the search box.
    page.keyboard.press("Tab")
    expect(page.locator("main .breadcrumb a").first).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("searchbox", name="Search")).to_be_focused()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    _only_local(requests_seen, live_server)


def test_search_works_without_javascript(browser: Browser, live_server, org):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/registry/agents/")
        page.get_by_label("Username").fill("lead")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{live_server.url}/registry/agents/")

        page.get_by_role("searchbox", name="Search").fill("kestrel")
        page.get_by_role("button", name="Apply").click()
        expect(page).to_have_url(
            f"{live_server.url}/registry/agents/?q=kestrel&domain=&division=&tier=&lifecycle_state="
        )
        expect(page.locator("#agent-results tbody tr")).to_have_count(2)
    finally:
        context.close()
    _only_local(seen, live_server)


def test_lead_creates_copies_and_revokes_a_token_with_the_keyboard(signed_in: Page, live_server, requests_seen):
    page = signed_in
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API tokens").click()
    expect(page).to_have_url(f"{live_server.url}/registry/tokens/")
    expect(page.locator(".app-empty")).to_contain_text("No API tokens yet.")
    expect(page.locator("#id_expires_on")).to_be_hidden()  # only with "On a date…"

    page.locator("#id_division").select_option("novacore-runtime")
    page.get_by_role("textbox", name="Name").fill("collector-eu-1")
    page.get_by_role("combobox", name="Expires").select_option("30")
    page.get_by_role("button", name="Create token").click()

    # The secret, once, with a warning, a working Copy button and a curl example.
    expect(page.get_by_role("heading", name="Token created: collector-eu-1")).to_be_visible()
    expect(page.locator("#new-token")).to_be_focused()
    expect(page.locator("#new-token")).to_contain_text("it will not be shown again")
    secret = page.get_by_role("textbox", name="Token").input_value()
    assert secret.startswith(f"nvo_{DivisionToken.objects.get().prefix}_")
    expect(page.locator("#new-token-curl")).to_contain_text(f"Authorization: Bearer {secret}")
    page.get_by_role("button", name="Copy token").click()
    expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # The list shows the prefix only, now and later.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API tokens").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    assert secret not in page.content()

    # Revoke with the keyboard: the dialog opens on Cancel, Escape closes it and focus returns to the opener.
    opener = page.get_by_role("button", name="Revoke… collector-eu-1 of NovaCore Runtime")
    dialog = page.get_by_role("dialog", name="Revoke “collector-eu-1”?")
    opener.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    page.keyboard.press(" ")
    expect(dialog).to_be_visible()
    page.keyboard.press("Shift+Tab")
    expect(dialog.get_by_role("button", name="Revoke token")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server.url}/registry/tokens/")
    expect(page.get_by_role("status").filter(has_text="Revoked “collector-eu-1”")).to_be_visible()
    expect(page.locator("tbody tr .token-state")).to_have_text("Revoked")
    expect(page.get_by_role("button", name="Revoke… collector-eu-1 of NovaCore Runtime")).to_have_count(0)
    assert DivisionToken.objects.get().revoked_at is not None
    _only_local(requests_seen, live_server)


def test_lead_pauses_an_agent_with_the_keyboard_and_sees_a_refusal(signed_in: Page, live_server, org, requests_seen):
    """The lifecycle panel: a transition made from the keyboard lands in the timeline; a deploy without a version is
    refused on the page, with its status and what was typed kept."""
    page = signed_in
    requests_seen.goto(f"{live_server.url}/registry/agents/ta_00011/")
    page.get_by_label("Reason (optional)").nth(1).fill("Maintenance window")  # degrade, pause, retire: pause's
    page.get_by_role("button", name="Pause ta_00011").focus()
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server.url}/registry/agents/ta_00011/")
    expect(page.get_by_text("ta_00011 was paused.")).to_be_visible()
    timeline = page.locator(".lifecycle-timeline")
    expect(timeline.locator("li").first).to_contain_text("Active → Paused")
    expect(timeline.locator("li").first).to_contain_text("“Maintenance window”")

    AgentFactory(handle="ta_00012", callsign="Fresh", division=org.division, lifecycle_state="provisioning")
    requests_seen.goto(f"{live_server.url}/registry/agents/ta_00012/")
    page.get_by_label("Reason (optional)").first.fill("First rollout")
    page.get_by_role("button", name="Deploy ta_00012").click()
    expect(page.get_by_role("alert")).to_contain_text("Refused (400):")
    expect(page.get_by_role("alert")).to_contain_text("A deploy names the version deployed.")
    expect(page.get_by_label("Reason (optional)").first).to_have_value("First rollout")
    requests_seen.expect_refused_page(400)
    page.get_by_label("Version deployed *").fill("1.0.0")
    page.get_by_role("button", name="Deploy ta_00012").click()
    expect(page.get_by_text("ta_00012 was deployed.")).to_be_visible()
    requests_seen.assert_clean()
