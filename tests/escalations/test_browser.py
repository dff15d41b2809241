"""The escalation pages in a real browser (headless Debian Chromium), the issue's scenario: a division member raises
a resource conflict against another division, the division lead acknowledges and escalates it to the Tier 1 leads,
Core decides an allocation and resolves it, and the timeline shows each step. On every page: no console error, no
CSP violation, no request to another host. Screenshots (light and dark) go to var/test-artifacts/."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from escalations.models import Escalation
from tests.helpers.browser import (
    Watch,
    browser_type_launch_args,  # noqa: F401 (the fixture, registered by the import)
    screenshot,
    sign_in,
    watch,
)

pytestmark = pytest.mark.browser

METRIC = "throughput_tasks_per_min"


@pytest.fixture
def people(transactional_db, org, land):
    """The escalations org, with a day of throughput for the two divisions (the ticket charts it)."""
    from tests.factories import AgentFactory

    now = timezone.now().replace(second=0, microsecond=0)
    for division in (org.runtime, org.workflow):
        agent = AgentFactory(division=division)
        points = [
            (
                METRIC,
                agent.handle,
                now - timedelta(minutes=10 * step),
                40 + (step % 12) * (2 if division == org.runtime else 1),
            )
            for step in range(150)
        ]
        land(division, points)
    return org


@pytest.fixture
def watched(page: Page, live_server) -> Watch:
    return watch(page, live_server.url)


def _sign_out(page: Page) -> None:
    # The charts' own requests finish first: a sign-out under a running one interrupts its session.
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username")).to_be_visible()


def _as(page: Page, base: str, username: str, path: str) -> None:
    _sign_out(page)
    sign_in(page, base, username, next_path=path)


def _timeline(page: Page):
    return page.locator(".esc-timeline")


def _raise(page: Page, base: str) -> str:
    """The runtime member raises the conflict through the form; returns the ticket page's path."""
    sign_in(page, base, "runtime-member", next_path="/escalations/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Escalations")
    expect(page.get_by_text("No escalations match")).to_be_visible()
    page.get_by_role("link", name="Raise an escalation").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Raise an escalation")
    # The resource fields show only for a resource conflict (escalations.js).
    page.get_by_label("Kind").select_option("friction")
    expect(page.get_by_label("Resource", exact=True)).to_be_hidden()
    page.get_by_label("Kind").select_option("resource_conflict")
    expect(page.get_by_label("Resource", exact=True)).to_be_visible()
    page.get_by_label("Title").fill("GPU hours for the nightly retrain")
    page.get_by_label("Description").fill("Both divisions need the **shared cluster** tonight.")
    page.locator("[name='priority']").select_option("P2")
    expect(page.get_by_label("Raising division")).to_have_value("novacore-runtime")
    page.get_by_label("Divisions involved").select_option("workflow-engineering")
    page.get_by_label("Metrics").select_option(METRIC)
    page.get_by_label("Resource", exact=True).fill("GPU hours")
    page.get_by_label("Unit").fill("h")
    page.get_by_label("Capacity available").fill("100")
    page.locator("[name='claims-0-amount']").fill("60")
    page.locator("[name='claims-0-priority']").select_option("P1")
    page.locator("[name='claims-0-justification']").fill("The nightly retrain cannot slip.")
    page.locator("[name='claims-0-gives']").fill("Our idle weekend hours")
    page.locator("[name='claims-1-division']").select_option("workflow-engineering")
    page.locator("[name='claims-1-amount']").fill("80")
    page.locator("[name='claims-1-priority']").select_option("P2")
    page.locator("[name='claims-1-justification']").fill("Backfill of last week's runs.")
    screenshot(page, "escalations-raise", full_page=True)
    page.get_by_role("button", name="Raise escalation").click()
    expect(page.locator(".alert-success")).to_contain_text("Raised ESC-")
    return page.url.removeprefix(base)


def test_raise_acknowledge_escalate_decide_resolve(page: Page, live_server, people, watched: Watch):
    base = live_server.url
    path = _raise(page, base)
    ticket = Escalation.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text("GPU hours for the nightly retrain")
    expect(page.locator(".esc-state")).to_have_text("Open")
    # The raiser may only escalate; the chart of the linked metric loads from the figure endpoint.
    expect(page.locator(".esc-buttons button")).to_have_text(["Escalate to level 2"])
    expect(page.locator(f"#chart-{METRIC} .main-svg").first).to_be_attached(timeout=15_000)
    screenshot(page, "escalations-ticket-raised", full_page=True)

    # The lead of the other division acknowledges, then escalates to the Tier 1 leads.
    _as(page, base, "workflow-lead", path)
    expect(page.locator(".esc-buttons button")).to_have_text(["Acknowledge", "Start work", "Escalate to level 2"])
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".alert-success")).to_have_text(f"{ticket.key} acknowledged.")
    expect(page.locator(".esc-state")).to_have_text("Acknowledged")
    page.get_by_role("button", name="Escalate to level 2").click()
    expect(page.locator(".alert-success")).to_contain_text("escalated to level 2")
    expect(page.locator(".esc-level")).to_have_text("Level 2: Tier 1 lead of each domain")
    # No longer an assignee: only a raiser's or involved person's buttons remain.
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)

    # Core decides the allocation from NovaOps' proposal (P1 first: 60, then 40 of the 80), starts and resolves.
    _as(page, base, "core", path)
    expect(page.locator("dd", has_text="core, meridian")).to_be_visible()
    claims = {claim.division.slug: claim.pk for claim in ticket.claims.all()}
    expect(page.locator(f"[name='amount_{claims['novacore-runtime']}']")).to_have_value("60.000")
    expect(page.locator(f"[name='amount_{claims['workflow-engineering']}']")).to_have_value("40.000")
    page.get_by_label("Decision rationale").fill("The retrain is P1; workflow takes the rest and the weekend hours.")
    page.get_by_role("button", name="Save allocation").click()
    expect(page.locator(".alert-success")).to_have_text(f"Allocation of {ticket.key} saved.")
    page.get_by_role("button", name="Start work").click()
    expect(page.locator(".esc-state")).to_have_text("In progress")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".alert-success")).to_have_text(f"{ticket.key} resolved.")
    expect(page.locator(".esc-state")).to_have_text("Resolved")

    # A comment, as Markdown.
    page.get_by_label("Comment").fill("Done: **60 h** and **40 h**. <script>alert(1)</script>")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator(".esc-entry--comment .esc-markdown strong")).to_have_text(["60 h", "40 h"])
    expect(page.locator(".esc-entry--comment")).to_contain_text("<script>alert(1)</script>")

    timeline = _timeline(page)
    for step in ["raise", "acknowledge", "escalate", "decide", "start", "resolve"]:
        expect(timeline.locator(f"[data-action='{step}']")).to_have_count(1)
    expect(timeline).to_contain_text("Open → Acknowledged")
    expect(timeline).to_contain_text("Level: 1 → 2")
    expect(timeline).to_contain_text("allocated: — → 60")
    expect(timeline).to_contain_text("In progress → Resolved")
    expect(page.locator(".esc-claims")).to_contain_text("60")

    page.emulate_media(color_scheme="light")
    screenshot(page, "escalations-ticket-resolved-light", full_page=True)
    page.emulate_media(color_scheme="dark")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    screenshot(page, "escalations-ticket-resolved-dark", full_page=True)

    # The queue in both themes, filtered from the URL.
    watched.goto(f"{base}/escalations/?state=resolved&sort=priority")
    expect(page.locator("tbody tr")).to_have_count(1)
    screenshot(page, "escalations-queue-dark")
    page.emulate_media(color_scheme="light")
    screenshot(page, "escalations-queue-light")
    watched.assert_clean()


def test_keyboard_reaches_the_buttons_and_a_refusal_is_a_message(
    page: Page, live_server, people, raise_ticket, watched
):
    ticket = raise_ticket()
    base = live_server.url
    sign_in(page, base, "runtime-lead", next_path=f"/escalations/{ticket.number}/")
    # Another lead acts first: this page's version is now stale.
    from escalations.services.transitions import escalation_transition

    escalation_transition(number=ticket.number, name="acknowledge", actor=people.workflow_lead)
    button = page.get_by_role("button", name="Acknowledge")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".alert-danger")).to_contain_text(f"{ticket.key} changed since you loaded it")
    expect(page.locator(".esc-state")).to_have_text("Acknowledged")
    watched.expect_refused_page(409)
    watched.assert_clean()


def test_strategic_sign_off_and_friction_follow_up(page: Page, live_server, people, raise_ticket, watched: Watch):
    from escalations.services.outcomes import decision_write

    strategic = raise_ticket(kind="strategic_alignment", title="One scheduler for both domains")
    decision_write(number=strategic.number, actor=people.core, text="Adopt the **shared scheduler** in Q3.")
    friction = raise_ticket(kind="friction", title="Hand-offs dropped at the domain boundary")
    base = live_server.url

    sign_in(page, base, "core", next_path=f"/escalations/{strategic.number}/")
    expect(page.locator(".esc-signoffs li")).to_have_count(2)
    page.get_by_role("button", name="Sign off for NovaOps").click()
    expect(page.locator(".alert-success")).to_contain_text("decision off for NovaOps")
    expect(page.locator(".esc-signoffs")).to_contain_text("Signed off by core")
    expect(page.get_by_role("button", name="Sign off for OrchOps")).to_have_count(0)
    page.emulate_media(color_scheme="dark")
    screenshot(page, "escalations-strategic-dark", full_page=True)

    watched.goto(f"{base}/escalations/{friction.number}/")
    page.get_by_label("Resolution note").fill("Both leads agreed on a shared hand-off checklist.")
    page.get_by_role("button", name="Save resolution note").click()
    expect(page.locator(".esc-decision")).to_contain_text("shared hand-off checklist")
    page.get_by_role("textbox", name="Action").fill("Publish the hand-off checklist")
    page.get_by_label("Owner").select_option(label="runtime-member")
    page.get_by_label("Due").fill("2030-01-15")
    page.get_by_role("button", name="Add follow-up").click()
    expect(page.locator(".esc-follow-ups")).to_contain_text("Publish the hand-off checklist")
    page.emulate_media(color_scheme="light")
    screenshot(page, "escalations-friction-light", full_page=True)

    watched.goto(f"{base}/escalations/sla/")
    expect(page.locator("tbody tr")).to_have_count(4)
    screenshot(page, "escalations-sla-light")
    watched.assert_clean()
