"""The ticket page (escalations/views/tickets.py and kinds.py): it renders for each role, shows only the buttons the
viewer may use, the SLA clocks, the kind's section with the forms its people may use, the timeline with comments as
safe Markdown, and a chart of a linked metric through the dashboards' figure endpoint."""

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from escalations.models import Comment, Escalation, EscalationMetric
from escalations.services.changes import comment_add
from escalations.services.outcomes import decision_write, sign_off
from escalations.services.raising import Claim
from escalations.services.transitions import escalation_transition
from metrics.models import Metric


def _url(ticket: Escalation) -> str:
    return reverse("escalations:detail", args=[ticket.number])


def _buttons(response) -> list[str]:
    return re.findall(r'data-action="(\w+)">', response.content.decode().split('id="actions-title"')[1])


@pytest.mark.parametrize(
    "username", ["core", "meridian", "runtime-lead", "workflow-lead", "runtime-member", "tools-member", "viewer"]
)
def test_the_page_renders_for_each_role(page_as, raise_ticket, username):
    ticket = raise_ticket()

    response = page_as(username).get(_url(ticket))

    assert response.status_code == 200
    assertContains(response, f"<h1>{ticket.title}</h1>", html=False)
    assertContains(response, "Level 1: Division leads")
    assertContains(response, "SLA clocks")
    assertContains(response, "Timeline")


def test_anonymous_goes_to_sign_in(page_as, raise_ticket):
    ticket = raise_ticket()

    response = page_as("anonymous").get(_url(ticket))

    assertRedirects(response, f"{reverse('login')}?next={_url(ticket)}", fetch_redirect_response=False)


def test_an_unknown_ticket_is_404(page_as, org):
    assert page_as("core").get(reverse("escalations:detail", args=[999])).status_code == 404


@pytest.mark.parametrize(
    ("username", "buttons"),
    [
        ("runtime-lead", ["acknowledge", "start", "escalate"]),  # an assignee at level 1
        ("core", ["acknowledge", "start", "escalate"]),  # a Tier 1 lead acts on any ticket
        ("runtime-member", ["escalate"]),  # the raiser may only push it up
        ("tools-member", []),  # not involved
        ("viewer", []),
    ],
)
def test_only_the_buttons_this_viewer_may_use(page_as, raise_ticket, username, buttons):
    ticket = raise_ticket()

    response = page_as(username).get(_url(ticket))

    assert _buttons(response) == buttons
    for name in buttons:
        assertContains(response, f'action="{reverse("escalations:act", args=[ticket.number, name])}"')
    actions = response.content.decode().split('id="actions-title"')[1].split("</section>")[0]
    assert actions.count(f'name="version" value="{ticket.version}"') == len(buttons)


def test_buttons_follow_the_state(page_as, raise_ticket, org):
    ticket = raise_ticket()
    escalation_transition(number=ticket.number, name="start", actor=org.runtime_lead)
    escalation_transition(number=ticket.number, name="wait", actor=org.runtime_lead)

    lead = page_as("runtime-lead").get(_url(ticket))
    raiser = page_as("runtime-member").get(_url(ticket))

    assert _buttons(lead) == ["start", "escalate"]
    assertContains(lead, "Resume work")
    assertContains(lead, "Paused")
    assert _buttons(raiser) == ["start", "escalate"]


def test_no_escalate_at_the_top_level(page_as, raise_ticket, org):
    ticket = raise_ticket()
    for _ in range(2):
        escalation_transition(number=ticket.number, name="escalate", actor=org.core)

    response = page_as("core").get(_url(ticket))

    assert "escalate" not in _buttons(response)
    assertContains(response, "Level 3: Both Tier 1 leads, jointly")


def test_clocks_show_remaining_and_breached(page_as, raise_ticket):
    fresh = raise_ticket(priority="P4")
    late = raise_ticket(priority="P1", at=timezone.now() - timedelta(hours=3))

    fresh_page = page_as("viewer").get(_url(fresh))
    late_page = page_as("viewer").get(_url(late))

    assertContains(fresh_page, "left")
    assertNotContains(fresh_page, "Breached")
    assertContains(late_page, "<strong>Breached</strong> by 2 h", html=False)


def test_header_names_people_divisions_and_links(page_as, raise_ticket, org):
    ticket = raise_ticket()

    response = page_as("viewer").get(_url(ticket))

    assertContains(response, reverse("dashboards:division", args=["novacore-runtime"]))
    assertContains(response, reverse("dashboards:division", args=["workflow-engineering"]))
    assertContains(response, "runtime-member")
    assertContains(response, "runtime-lead, workflow-lead")


def test_responders_get_the_reassign_form_with_the_level_pool(page_as, raise_ticket, org):
    ticket = raise_ticket()

    lead = page_as("runtime-lead").get(_url(ticket)).content.decode()
    viewer = page_as("viewer").get(_url(ticket))

    pool = lead.split('name="assignees"')[1].split("</select>")[0]
    for username in ["runtime-lead", "workflow-lead", "runtime-member", "workflow-member"]:
        assert username in pool
    assert "tools-member" not in pool
    assertNotContains(viewer, 'name="assignees"')


# --- kind sections -------------------------------------------------------------------------------------------------


def _claims(org) -> list[Claim]:
    return [
        Claim(division=org.runtime, amount=Decimal(60), justification="Retrain", priority="P2", gains="Fresh models"),
        Claim(division=org.workflow, amount=Decimal(80), justification="Backfill", priority="P2", gives="Weekend"),
    ]


def test_resource_conflict_shows_claims_and_the_proposal(page_as, raise_ticket, org):
    ticket = raise_ticket(claims=_claims(org), capacity=Decimal(105))

    lead = page_as("runtime-lead").get(_url(ticket))
    viewer = page_as("viewer").get(_url(ticket))

    for text in ["Resource: GPU hours", "Capacity available", "Fresh models", "Weekend", "Retrain", "Backfill"]:
        assertContains(viewer, text)
    # Same priority: 105 shared in proportion to 60 and 80.
    assertContains(lead, 'name="amount_', count=2)
    html = lead.content.decode()
    assert re.search(r'name="amount_\d+" value="45\.000"', html)
    assert re.search(r'name="amount_\d+" value="60\.000"', html)
    assertContains(lead, "Pre-filled with NovaOps' proposal")
    assertNotContains(viewer, "Decide the allocation")


def test_involved_people_may_add_a_claim_for_a_division_without_one(page_as, raise_ticket, org):
    ticket = raise_ticket(claims=_claims(org)[:1])

    response = page_as("workflow-member").get(_url(ticket))

    assertContains(response, "Add a claim")
    choices = response.content.decode().split('name="division"')[1].split("</select>")[0]
    assert "workflow-engineering" in choices and "novacore-runtime" not in choices


def test_strategic_alignment_sign_offs_per_domain(page_as, raise_ticket, org):
    ticket = raise_ticket(kind="strategic_alignment")
    decision_write(number=ticket.number, actor=org.core, text="Adopt the shared scheduler.")

    core = page_as("core").get(_url(ticket))
    meridian = page_as("meridian").get(_url(ticket))
    member = page_as("runtime-member").get(_url(ticket))

    assertContains(core, "Adopt the shared scheduler.")
    assertContains(core, "Sign off for NovaOps")
    assertNotContains(core, "Sign off for OrchOps")
    assertContains(meridian, "Sign off for OrchOps")
    assertNotContains(member, "Sign off for")
    assertContains(core, "Pending", count=2)


def test_a_withdrawn_sign_off_is_in_the_timeline(page_as, raise_ticket, org):
    ticket = raise_ticket(kind="strategic_alignment")
    decision_write(number=ticket.number, actor=org.core, text="Adopt the shared scheduler.")
    sign_off(number=ticket.number, actor=org.core)
    decision_write(number=ticket.number, actor=org.core, text="Adopt the shared scheduler in Q3.")

    response = page_as("viewer").get(_url(ticket))

    assertContains(response, "Sign-off added")
    assertContains(response, "Sign-off removed")
    assertContains(response, "withdrawn")
    assertContains(response, "Pending", count=2)


def test_friction_resolution_note_and_follow_ups(page_as, raise_ticket, org):
    ticket = raise_ticket(kind="friction")

    core = page_as("core").get(_url(ticket))
    viewer = page_as("viewer").get(_url(ticket))

    assertContains(core, "Resolution note")
    assertContains(core, "Add follow-up")
    owners = core.content.decode().split('name="owner"')[1].split("</select>")[0]
    assert "runtime-member" in owners and "core" in owners
    assertNotContains(viewer, "Add follow-up")
    assertContains(viewer, "None yet.")


# --- timeline and comments -----------------------------------------------------------------------------------------


def test_timeline_shows_each_change_from_and_to(page_as, raise_ticket, org):
    ticket = raise_ticket()
    escalation_transition(number=ticket.number, name="acknowledge", actor=org.runtime_lead)
    escalation_transition(number=ticket.number, name="escalate", actor=org.runtime_lead)

    html = page_as("viewer").get(_url(ticket)).content.decode()

    assert re.search(r"State</span>: <del>Open</del> → <ins>Acknowledged</ins>", html)
    assert re.search(r"Level</span>: <del>1</del> → <ins>2</ins>", html)
    assert html.index("acknowledge</span>") < html.index("escalate</span>")


def test_comments_are_markdown_without_raw_html_or_script_links(page_as, raise_ticket, org):
    ticket = raise_ticket()
    comment_add(
        number=ticket.number,
        actor=org.runtime_lead,
        body="**Looking** <script>alert('x')</script> [bad](javascript:alert(1)) [good](https://example.org)",
    )

    response = page_as("viewer").get(_url(ticket))

    html = response.content.decode()
    assert "<strong>Looking</strong>" in html
    assert "&lt;script&gt;alert(" in html
    assert "<script>alert" not in html
    assert 'href="javascript:' not in html
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">good</a>' in html


def test_the_comment_form_is_for_those_who_may_comment(page_as, raise_ticket):
    ticket = raise_ticket()

    assertContains(page_as("workflow-member").get(_url(ticket)), 'name="body"')
    assertNotContains(page_as("viewer").get(_url(ticket)), 'name="body"')
    assertNotContains(page_as("tools-member").get(_url(ticket)), 'name="body"')


def test_times_are_in_the_viewers_zone(page_as, raise_ticket):
    ticket = raise_ticket()
    client = page_as("viewer")
    client.cookies["novaops_tz"] = "Asia/Tokyo"

    response = client.get(_url(ticket))

    assertContains(response, "times in Asia/Tokyo")
    assertContains(response, timezone.localtime(ticket.created_at, timezone.get_fixed_timezone(540)).strftime("%H:%M"))


# --- the metric chart ----------------------------------------------------------------------------------------------


def test_a_linked_metric_is_charted_around_the_raise(page_as, raise_ticket):
    ticket = raise_ticket(at=timezone.now() - timedelta(hours=30))
    metric = Metric.objects.first()
    EscalationMetric.objects.create(escalation=ticket, metric=metric)

    response = page_as("viewer").get(_url(ticket))

    url = re.search(r'data-figure-url="([^"]+)"', response.content.decode()).group(1).replace("&amp;", "&")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == reverse("dashboards:figure")
    assert query["metric"] == [metric.key]
    assert query["group"] == ["division"]
    assert sorted(query["division"]) == ["novacore-runtime", "workflow-engineering"]
    assert query["from"][0] < query["to"][0]
    assertContains(response, "js/dashboards.js")
    # The endpoint draws it (nothing reported yet: an empty figure with its reason, not an error).
    figure = page_as("viewer").get(url)
    assert figure.status_code == 200
    assert figure.json()["meta"]["empty"]["reason"] == "never"


def test_no_chart_scripts_without_a_metric(page_as, raise_ticket):
    ticket = raise_ticket()

    response = page_as("viewer").get(_url(ticket))

    assertNotContains(response, "data-figure-url")
    assertNotContains(response, "plotly")


def test_page_query_budget_does_not_grow_with_the_timeline(page_as, raise_ticket, org, django_assert_max_num_queries):
    ticket = raise_ticket(claims=_claims(org))
    client = page_as("runtime-lead")
    client.get(_url(ticket))  # the session's first use
    with django_assert_max_num_queries(32) as few:
        client.get(_url(ticket))
    for number in range(10):
        comment_add(number=ticket.number, actor=org.runtime_lead, body=f"Note {number}")
    escalation_transition(number=ticket.number, name="acknowledge", actor=org.runtime_lead)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(_url(ticket))
    assert Comment.objects.count() == 10
    assertContains(response, "Note 9")


def test_a_first_decision_withdraws_nothing(page_as, raise_ticket, org):
    ticket = raise_ticket(kind="friction")
    decision_write(number=ticket.number, actor=org.core, text="A shared hand-off checklist.")

    response = page_as("viewer").get(_url(ticket))

    assertContains(response, 'data-action="decision"')
    assertNotContains(response, "withdrawn")
