"""The registry pages (agents/views/registry.py): who sees what, search and filters, precise 400/404 answers, empty
states, query budgets."""

import re
from html import escape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects, assertTemplateUsed

from agents.models import Agent
from tests.factories import AgentFactory, DomainFactory, PersonFactory
from tests.helpers import SESSION_SAVE_QUERIES

ROLES = ["lead", "member", "other_member", "viewer", "no_role", "anonymous"]
# What each role gets on a page that every NovaOps role may read, and on the edit page of an agent of cast.division.
READ = {"lead": 200, "member": 200, "other_member": 200, "viewer": 200, "no_role": 403, "anonymous": 302}
EDIT_OWN_DIVISION = {"lead": 200, "member": 200, "other_member": 403, "viewer": 403, "no_role": 403, "anonymous": 302}
EDIT_OTHER_DIVISION = {"lead": 200, "member": 403, "other_member": 200, "viewer": 403, "no_role": 403, "anonymous": 302}


def _rows(response) -> list[str]:
    """The handles listed in the agent table of a response, in order."""
    return re.findall(r'class="app-handle" href="/registry/agents/(ta_\d{5})/"', response.content.decode())


# --- who gets what -------------------------------------------------------------------------------------------------

READ_PAGES = [
    pytest.param("agents:domain_list", {}, id="domain_list"),
    pytest.param("agents:domain_detail", {"slug": "novaops"}, id="domain_detail"),
    pytest.param("agents:division_detail", {"slug": "novacore-runtime"}, id="division_detail"),
    pytest.param("agents:agent_list", {}, id="agent_list"),
    pytest.param("agents:agent_detail", {"handle": "ta_00011"}, id="agent_detail"),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "kwargs"), READ_PAGES)
def test_read_pages_answer_each_role(client_as, registry, role, name, kwargs):
    url = reverse(name, kwargs=kwargs)
    response = client_as(role).get(url)

    assert response.status_code == READ[role]
    if role == "anonymous":
        assertRedirects(response, f"{reverse('login')}?next={url}", fetch_redirect_response=False)
    elif role == "no_role":
        assertTemplateUsed(response, "errors/403.html")
        assertContains(response, "Ask an administrator", status_code=403)
    else:
        assertContains(response, 'class="skip-link" href="#main"')


@pytest.mark.parametrize(
    ("handle", "expected"),
    [
        pytest.param("ta_00002", EDIT_OWN_DIVISION, id="own-division"),
        pytest.param("ta_00010", EDIT_OTHER_DIVISION, id="other"),
    ],
)
@pytest.mark.parametrize("role", ROLES)
def test_edit_page_answers_each_role(client_as, registry, role, handle, expected):
    url = reverse("agents:agent_edit", kwargs={"handle": handle})
    response = client_as(role).get(url)

    assert response.status_code == expected[role]
    if expected[role] == 200:
        assertContains(response, 'name="callsign"')
    if role == "anonymous":
        assertRedirects(response, f"{reverse('login')}?next={url}", fetch_redirect_response=False)


@pytest.mark.parametrize(
    ("handle", "expected"),
    [
        pytest.param("ta_00002", EDIT_OWN_DIVISION, id="own-division"),
        pytest.param("ta_00010", EDIT_OTHER_DIVISION, id="other"),
    ],
)
@pytest.mark.parametrize("role", ROLES)
def test_edit_post_changes_the_agent_only_when_allowed(client_as, registry, role, handle, expected):
    target = registry[handle]
    url = reverse("agents:agent_edit", kwargs={"handle": target.handle})
    data = {"callsign": "Renamed", "role_title": "Night shift", "tier": "2"}

    response = client_as(role).post(url, data)

    target.refresh_from_db()
    if expected[role] == 200:
        assertRedirects(response, reverse("agents:agent_detail", kwargs={"handle": target.handle}))
        assert (target.callsign, target.role_title, target.tier) == ("Renamed", "Night shift", 2)
    else:
        assert response.status_code == expected[role]
        assert target.callsign != "Renamed"


@pytest.mark.parametrize(
    ("role", "handle", "shown"),
    [
        ("lead", "ta_00002", True),
        ("lead", "ta_00010", True),
        ("member", "ta_00002", True),
        ("member", "ta_00010", False),
        ("other_member", "ta_00002", False),
        ("other_member", "ta_00010", True),
        ("viewer", "ta_00002", False),
    ],
)
def test_edit_link_only_for_those_who_may_edit(client_as, registry, role, handle, shown):
    response = client_as(role).get(reverse("agents:agent_detail", kwargs={"handle": handle}))

    assert response.status_code == 200
    assert (reverse("agents:agent_edit", kwargs={"handle": handle}) in response.content.decode()) is shown


def test_superuser_without_a_role_reads_and_edits(client_as, registry):
    client = client_as("superuser")

    assert client.get(reverse("agents:domain_list")).status_code == 200
    response = client.get(reverse("agents:agent_detail", kwargs={"handle": "ta_00010"}))
    assertContains(response, reverse("agents:agent_edit", kwargs={"handle": "ta_00010"}))
    assertContains(response, "Administrator")
    assert client.get(reverse("agents:agent_edit", kwargs={"handle": "ta_00010"})).status_code == 200


def test_forbidden_edit_says_why(client_as, registry):
    member_response = client_as("member").get(reverse("agents:agent_edit", kwargs={"handle": "ta_00010"}))
    assertContains(member_response, "own division only", status_code=403)


def test_viewer_is_told_they_only_read(client_as, registry):
    response = client_as("viewer").post(reverse("agents:agent_edit", kwargs={"handle": "ta_00002"}), {"callsign": "X"})
    assertContains(response, "read the registry but not change it", status_code=403)


def test_read_pages_refuse_post(client_as, registry):
    assert client_as("lead").post(reverse("agents:agent_list")).status_code == 405


def test_every_filter_control_has_a_label(client_as, registry):
    html = client_as("viewer").get(reverse("agents:agent_list")).content.decode()

    controls = re.findall(r'<(?:input|select)[^>]* id="(id_[a-z_]+)"', html)
    assert set(controls) == {"id_q", "id_domain", "id_division", "id_tier", "id_lifecycle_state"}
    for control in controls:
        assert f'<label class="form-label" for="{control}">' in html
    assert 'id="main"' in html


# --- pages show what they should -----------------------------------------------------------------------------------


def test_domain_list_shows_leads_and_counts(client_as, registry):
    response = client_as("viewer").get(reverse("agents:domain_list"))

    domains = list(response.context["domains"])
    assert [(d.name, d.lead.callsign, d.division_count, d.agent_count) for d in domains] == [
        ("NovaOps", "Core", 2, 5),
        ("OrchOps", "Meridian", 1, 2),
    ]
    assertContains(response, reverse("agents:domain_detail", kwargs={"slug": "orchops"}))


def test_domain_detail_lists_divisions_with_lead_and_counts(client_as, registry):
    response = client_as("viewer").get(reverse("agents:domain_detail", kwargs={"slug": "novaops"}))

    rows = [
        (d.name, d.lead.callsign if d.lead else None, d.agent_count, d.active_count)
        for d in response.context["divisions"]
    ]
    assert rows == [("NovaCore Runtime", "Atlas", 3, 2), ("Tool Ecosystem", None, 2, 1)]
    assertContains(response, "Workflow Engineering", count=0)


def test_division_detail_shows_lead_and_its_agents_only(client_as, registry):
    response = client_as("viewer").get(reverse("agents:division_detail", kwargs={"slug": "novacore-runtime"}))

    assert _rows(response) == ["ta_00001", "ta_00002", "ta_00008"]
    assertContains(response, "Atlas")
    assertContains(response, "Paused")


def test_agent_detail_shows_everything_about_the_agent(client_as, registry):
    response = client_as("viewer").get(reverse("agents:agent_detail", kwargs={"handle": "ta_00008"}))
    html = response.content.decode()

    for text in ["ta_00008", "Core", "NovaCore Runtime", "NovaOps", "Tier 1", "NovaOps Tier 1 Lead", "Active"]:
        assert text in html
    assert "(Tier 1 lead)" in html  # leads the NovaOps domain
    assert '>lead <span class="badge role-badge role-badge--tier1_lead">' in html  # the linked login user


def test_agent_detail_of_a_division_lead_without_login(client_as, registry):
    html = client_as("viewer").get(reverse("agents:agent_detail", kwargs={"handle": "ta_00001"})).content.decode()

    assert 'Division <a href="/registry/divisions/novacore-runtime/">NovaCore Runtime</a>' in html
    assert "None linked" in html


def test_agent_list_marks_lifecycle_states_with_coloured_badges(client_as, registry):
    html = client_as("viewer").get(reverse("agents:agent_list")).content.decode()

    assert 'lifecycle-badge text-bg-success">Active' in html
    assert 'lifecycle-badge text-bg-warning">Paused' in html
    assert 'lifecycle-badge text-bg-secondary">Retired' in html


# --- search and filters --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "handles"),
    [
        pytest.param(
            "", ["ta_00001", "ta_00002", "ta_00008", "ta_00010", "ta_00011", "ta_00151", "ta_00152"], id="all"
        ),
        pytest.param("q=bEACON", ["ta_00002"], id="callsign-any-case"),
        pytest.param("q=ta_0001", ["ta_00010", "ta_00011"], id="handle-prefix"),
        pytest.param("q=++Meridian++", ["ta_00151"], id="trimmed"),
        pytest.param("division=tool-ecosystem", ["ta_00010", "ta_00011"], id="division"),
        pytest.param("domain=orchops", ["ta_00151", "ta_00152"], id="domain"),
        pytest.param("tier=2", ["ta_00001", "ta_00011"], id="tier"),
        pytest.param("lifecycle_state=retired", ["ta_00152"], id="state"),
        pytest.param(
            "q=lead&domain=novaops&lifecycle_state=active", ["ta_00001", "ta_00008", "ta_00011"], id="combined"
        ),
        pytest.param(
            "q=engineer&division=&domain=&tier=&lifecycle_state=",
            ["ta_00002", "ta_00010", "ta_00152"],
            id="blank-filters",
        ),
    ],
)
def test_agent_list_search_and_filters(client_as, registry, query, handles):
    response = client_as("viewer").get(f"{reverse('agents:agent_list')}?{query}")

    assert response.status_code == 200
    assert _rows(response) == handles


def test_filter_form_keeps_the_chosen_values(client_as, registry):
    html = (
        client_as("viewer").get(f"{reverse('agents:agent_list')}?q=kes&tier=3&division=tool-ecosystem").content.decode()
    )

    assert 'name="q" value="kes"' in html
    assert '<option value="3" selected>Tier 3</option>' in html
    assert '<option value="tool-ecosystem" selected>Tool Ecosystem</option>' in html
    # A blank tier choice exists, so a plain submit does not silently filter on Tier 1.
    assert '<option value="">Any tier</option>' in html


def test_live_search_answers_with_the_results_partial(client_as, registry):
    response = client_as("viewer").get(
        f"{reverse('agents:agent_list')}?q=ta_0001", headers={"HX-Request": "true", "HX-Target": "agent-results"}
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert "<html" not in html and "<form" not in html
    assert _rows(response) == ["ta_00010", "ta_00011"]
    assert '<div id="results-status" hx-swap-oob="innerHTML">2 agents found.</div>' in html
    assert "HX-Request" in response["Vary"]


def test_history_restore_gets_the_whole_page(client_as, registry):
    response = client_as("viewer").get(
        f"{reverse('agents:agent_list')}?q=kestrel",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true", "HX-Target": "agent-results"},
    )

    assertContains(response, "<html")
    assertContains(response, 'role="search"')


def test_live_search_of_a_signed_out_user_redirects_the_whole_page(client, registry):
    url = f"{reverse('agents:agent_list')}?q=kestrel"
    response = client.get(url, headers={"HX-Request": "true", "HX-Target": "agent-results"})

    assert response["HX-Redirect"] == f"{reverse('login')}?next=/registry/agents/%3Fq%3Dkestrel"


def test_agent_list_paginates_fifty_per_page(client_as, cast):
    AgentFactory.create_batch(120, division=cast.division)
    client = client_as("viewer")
    url = reverse("agents:agent_list")

    first = client.get(url)
    third = client.get(f"{url}?page=3")

    assert len(_rows(first)) == 50
    assert len(_rows(third)) == 20
    assertContains(first, "Showing <strong>1–50</strong> of <strong>120</strong> agents")
    assertContains(third, 'aria-current="page"><span class="visually-hidden">Page </span>3')
    assert set(_rows(first)).isdisjoint(_rows(third))


def test_pagination_links_keep_the_filters(client_as, cast):
    AgentFactory.create_batch(60, division=cast.division, callsign="Echo")
    response = client_as("viewer").get(f"{reverse('agents:agent_list')}?q=echo&tier=3")

    assertContains(response, 'href="?q=echo&amp;tier=3&amp;page=2"')
    assertContains(response, 'hx-get="?q=echo&amp;tier=3&amp;page=2"')


# --- precise answers to bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        pytest.param(
            "division=no-such-division", "division", "No division with slug 'no-such-division'.", id="division"
        ),
        pytest.param("domain=atlantis", "domain", "No domain with slug 'atlantis'.", id="unknown-domain"),
        pytest.param("tier=9", "tier", "Tier must be 1, 2 or 3, not '9'.", id="tier-out-of-range"),
        pytest.param("tier=one", "tier", "Tier must be 1, 2 or 3, not 'one'.", id="tier-not-a-number"),
        pytest.param(
            "lifecycle_state=zombie",
            "lifecycle_state",
            "Lifecycle state must be one of provisioning, deployed, active, degraded, paused, retired; not 'zombie'.",
            id="unknown-state",
        ),
        pytest.param(f"q={'x' * 61}", "q", "at most 60 characters", id="search-too-long"),
        pytest.param("q=ab%00c", "q", "Null characters are not allowed", id="nul-in-search"),
        pytest.param("division=bad%00slug", "division", "Null characters are not allowed", id="nul-in-slug"),
    ],
)
def test_bad_filters_answer_400_with_the_error_next_to_the_field(client_as, registry, query, field, message):
    response = client_as("viewer").get(f"{reverse('agents:agent_list')}?{query}")
    html = response.content.decode()

    assert response.status_code == 400
    assert re.search(rf'id="id_{field}_error">.*?{re.escape(escape(message))}', html, re.S)
    assert re.search(rf'<(?:input|select)[^>]*class="[^"]*is-invalid[^"]*"[^>]*id="id_{field}"', html)
    assert re.search(rf'<(?:input|select)[^>]*aria-invalid="true"[^>]*id="id_{field}"', html)
    assert _rows(response) == []  # no silently widened list


def test_bad_filter_in_the_live_search_answers_400_with_the_errors(client_as, registry):
    response = client_as("viewer").get(
        f"{reverse('agents:agent_list')}?division=nope", headers={"HX-Request": "true", "HX-Target": "agent-results"}
    )

    assert response.status_code == 400
    assertContains(response, "Check the filters", status_code=400)
    summary = '<a href="#id_division">Division</a>: ' + escape("No division with slug 'nope'.")
    assertContains(response, summary, status_code=400)
    assertNotContains(response, "<html", status_code=400)


@pytest.mark.parametrize("number", ["0", "4", "-1", "abc", "1.5", "9" * 30, "%00"])
def test_page_out_of_range_or_not_a_number_is_404(client_as, cast, number):
    AgentFactory.create_batch(120, division=cast.division)
    response = client_as("viewer").get(f"{reverse('agents:agent_list')}?page={number}")

    assert response.status_code == 404
    assertTemplateUsed(response, "errors/404.html")


def test_first_page_of_an_empty_list_is_not_404(client_as, cast):
    assert client_as("viewer").get(f"{reverse('agents:agent_list')}?page=1").status_code == 200


def test_division_page_number_out_of_range_is_404(client_as, registry):
    response = client_as("viewer").get(
        f"{reverse('agents:division_detail', kwargs={'slug': 'novacore-runtime'})}?page=2"
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/registry/domains/atlantis/",
        "/registry/divisions/no-such-division/",
        "/registry/agents/ta_99999/",
        "/registry/agents/TA_00011/",
        "/registry/agents/ta_0001/",
        "/registry/agents/ta_000011/",
        "/registry/agents/robert');%20DROP%20TABLE%20agents--/",
        "/registry/agents/ta_00011%0A/",
        "/registry/agents/ta_00011%00/",
        "/registry/agents/ta_99999/edit/",
        "/registry/agents/not-a-handle/edit/",
        "/registry/agents/ta_00011%00/edit/",
    ],
)
def test_unknown_or_malformed_addresses_are_404(client_as, registry, url):
    response = client_as("lead").get(url)

    assert response.status_code == 404
    assertTemplateUsed(response, "errors/404.html")


def test_malformed_handle_still_asks_anonymous_users_to_sign_in(client, registry):
    assert client.get("/registry/agents/not-a-handle/").status_code == 302


def test_edit_with_invalid_values_answers_400_and_changes_nothing(client_as, registry):
    url = reverse("agents:agent_edit", kwargs={"handle": "ta_00002"})
    response = client_as("member").post(
        url, {"callsign": "", "role_title": "x" * 121, "tier": "7", "lifecycle_state": "zombie"}
    )
    html = response.content.decode()

    assert response.status_code == 400
    for field in ["callsign", "role_title", "tier"]:
        assert f'id="id_{field}_error"' in html
    beacon = Agent.objects.get(handle="ta_00002")
    assert (beacon.callsign, beacon.tier) == ("Beacon", 3)


def test_edit_prefills_the_form_and_reports_the_save(client_as, registry):
    client = client_as("lead")
    url = reverse("agents:agent_edit", kwargs={"handle": "ta_00002"})

    form_page = client.get(url)
    assertContains(form_page, 'name="callsign" value="Beacon"')
    assertNotContains(form_page, 'name="lifecycle_state"')

    # A lifecycle_state sent anyway is ignored: the state moves through the agent page's transitions only.
    saved = client.post(
        url,
        {"callsign": "Beacon", "role_title": "Night shift", "tier": "3", "lifecycle_state": "retired"},
        follow=True,
    )
    assertContains(saved, "Saved ta_00002.")
    assertContains(saved, 'text-bg-warning">Paused')

    unchanged = client.post(
        url,
        {"callsign": "Beacon", "role_title": "Night shift", "tier": "3", "lifecycle_state": "retired"},
        follow=True,
    )
    assertContains(unchanged, "Nothing changed.")


# --- empty states --------------------------------------------------------------------------------------------------


def test_empty_registry_pages_say_so(client, db):
    client.force_login(PersonFactory(role="viewer").user)

    assertContains(client.get(reverse("agents:domain_list")), "No domains yet.")
    assertContains(client.get(reverse("agents:agent_list")), "The registry has no agents yet.")


def test_domain_without_divisions_says_so(client_as, cast):
    DomainFactory(name="Empty", slug="empty")
    assertContains(
        client_as("viewer").get(reverse("agents:domain_detail", kwargs={"slug": "empty"})), "no divisions yet"
    )


def test_division_without_agents_says_so(client_as, cast):
    response = client_as("viewer").get(reverse("agents:division_detail", kwargs={"slug": "tool-ecosystem"}))
    assertContains(response, "No agents in this division yet.")


def test_search_without_matches_offers_to_clear_the_filters(client_as, registry):
    response = client_as("viewer").get(f"{reverse('agents:agent_list')}?q=zzz")

    assertContains(response, "No agents match these filters.")
    assertContains(response, 'href="/registry/agents/">Clear all filters')


def test_live_search_without_matches_announces_it(client_as, registry):
    response = client_as("viewer").get(
        f"{reverse('agents:agent_list')}?q=zzz", headers={"HX-Request": "true", "HX-Target": "agent-results"}
    )
    assertContains(response, "No agents match these filters.")
    assertContains(response, ">No agents found.</div>")


# --- query budgets: the cost of a page does not depend on how many agents there are ----------------------------------


def _grow(cast, agents: int) -> None:
    AgentFactory.create_batch(agents, division=cast.division)
    AgentFactory.create_batch(agents, division=cast.other_division, lifecycle_state=Agent.Lifecycle.PAUSED)


@pytest.mark.parametrize("agents", [2, 60])
def test_agent_list_query_budget(client_as, cast, agents, django_assert_max_num_queries):
    _grow(cast, agents)
    client = client_as("viewer")

    # session, user, person; count and page; the division and domain choices of the form; the session's save.
    with django_assert_max_num_queries(7 + SESSION_SAVE_QUERIES):
        response = client.get(reverse("agents:agent_list"))
    assert len(_rows(response)) == min(2 * agents, 50)

    # plus one lookup per slug filter
    with django_assert_max_num_queries(9 + SESSION_SAVE_QUERIES):
        client.get(f"{reverse('agents:agent_list')}?division=novacore-runtime&domain=novaops&q=a&page=1")

    with django_assert_max_num_queries(5 + SESSION_SAVE_QUERIES):
        client.get(reverse("agents:agent_list"), headers={"HX-Request": "true", "HX-Target": "agent-results"})


@pytest.mark.parametrize("agents", [2, 60])
def test_registry_page_query_budgets(client_as, registry, cast, agents, django_assert_max_num_queries):
    _grow(cast, agents)
    client = client_as("lead")

    # session, user, person; domains with counts; divisions with counts; the session's save.
    with django_assert_max_num_queries(5 + SESSION_SAVE_QUERIES):
        client.get(reverse("agents:domain_list"))
    with django_assert_max_num_queries(5 + SESSION_SAVE_QUERIES):
        client.get(reverse("agents:domain_detail", kwargs={"slug": "novaops"}))
    with django_assert_max_num_queries(6 + SESSION_SAVE_QUERIES):
        client.get(reverse("agents:division_detail", kwargs={"slug": "novacore-runtime"}))
    # session, user, person; the agent with its joins; its lifecycle trail; the session's save.
    with django_assert_max_num_queries(5 + SESSION_SAVE_QUERIES):
        client.get(reverse("agents:agent_detail", kwargs={"handle": "ta_00008"}))


def test_agent_list_cost_is_the_same_for_few_and_many_agents(client_as, cast):
    client = client_as("viewer")
    url = f"{reverse('agents:agent_list')}?domain=novaops"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        return len(queries)

    _grow(cast, 3)
    few = count()
    _grow(cast, 80)
    assert count() == few
