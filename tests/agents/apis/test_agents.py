"""The agents API (agents/apis/agents.py): who may change what, filters, pagination, precise problems, the
browser's session path, query budgets."""

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.urls import reverse
from rest_framework.test import APIClient

from agents import serializers
from agents.models import Agent
from tests.agents.apis import NEW_AGENT, handles, url
from tests.factories import PersonFactory
from tests.helpers import assert_problem

# --- who may change what ---


def test_no_role_and_viewer_refusals_say_why(api_as, registry):
    assert_problem(
        api_as("no_role").get(url("agent-list")),
        403,
        "Your account has no NovaOps role; ask an administrator to assign one.",
    )
    assert_problem(api_as("viewer").post(url("agent-list"), NEW_AGENT), 403, "Only Tier 1 leads can create agents.")
    assert_problem(api_as("member").post(url("agent-list"), NEW_AGENT), 403, "Only Tier 1 leads can create agents.")
    assert_problem(
        api_as("viewer").patch(url("agent-detail", handle="ta_00002"), {"tier": 2}),
        403,
        "Your role can read the registry but not change it.",
    )
    assert_problem(
        api_as("other_member").patch(url("agent-detail", handle="ta_00002"), {"tier": 2}),
        403,
        "You can edit the agents of your own division only; ta_00002 belongs to NovaCore Runtime.",
    )


def test_anonymous_gets_401_with_www_authenticate(api_client, registry):
    response = api_client.get(url("agent-list"))

    body = assert_problem(response, 401, "Authentication credentials were not provided.")
    assert body["title"] == "Authentication required"
    assert response["WWW-Authenticate"]


def test_superuser_without_person_reads_creates_and_edits(registry, superuser):
    client = APIClient()
    client.force_authenticate(superuser)

    assert client.get(url("agent-list")).status_code == 200
    assert client.post(url("agent-list"), NEW_AGENT, format="json").status_code == 201
    assert client.patch(url("agent-detail", handle="ta_00152"), {"tier": 2}, format="json").status_code == 200
    assert Agent.objects.get(handle="ta_00152").tier == 2


def test_lead_of_another_domain_may_edit_any_agent(registry, cast):
    """Tier 1 leads act across domains (Person.can_edit_division)."""
    orchops_lead = PersonFactory(role="tier1_lead", domain=registry["ta_00151"].division.domain).user
    client = APIClient()
    client.force_authenticate(orchops_lead)

    response = client.patch(url("agent-detail", handle="ta_00002"), {"tier": 2}, format="json")

    assert response.status_code == 200
    assert Agent.objects.get(handle="ta_00002").tier == 2


# --- list: filters, search, pagination ---


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["ta_00001", "ta_00002", "ta_00008", "ta_00010", "ta_00011", "ta_00151", "ta_00152"]),
        ({"q": "ta_0001"}, ["ta_00010", "ta_00011"]),
        ({"q": "cIPH"}, ["ta_00010"]),
        ({"q": "  engineer "}, ["ta_00002", "ta_00010", "ta_00152"]),
        ({"q": "tier 1 lead"}, ["ta_00008", "ta_00151"]),
        ({"domain": "orchops"}, ["ta_00151", "ta_00152"]),
        ({"division": "tool-ecosystem"}, ["ta_00010", "ta_00011"]),
        ({"tier": "1"}, ["ta_00008", "ta_00151"]),
        ({"lifecycle_state": "paused"}, ["ta_00002"]),
        ({"domain": "novaops", "tier": "2", "lifecycle_state": "active"}, ["ta_00001", "ta_00011"]),
        ({"division": "tool-ecosystem", "q": "lead"}, ["ta_00011"]),
        ({"domain": "orchops", "division": "tool-ecosystem"}, []),
        # Blank values mean "any".
        (
            {"division": "", "tier": "", "q": ""},
            ["ta_00001", "ta_00002", "ta_00008", "ta_00010", "ta_00011", "ta_00151", "ta_00152"],
        ),
    ],
)
def test_agent_list_filters_and_search(api_as, registry, params, expected):
    response = api_as("viewer").get(url("agent-list"), params)

    assert handles(response) == expected
    assert response.json()["count"] == len(expected)


def test_agent_list_items_have_division_and_domain(api_as, registry):
    item = api_as("viewer").get(url("agent-list"), {"q": "ta_00152"}).json()["results"][0]

    assert item.keys() == {
        "handle",
        "callsign",
        "tier",
        "role_title",
        "lifecycle_state",
        "deployed_version",
        "last_seen_at",
        "status_message",
        "division",
        "domain",
        "created_at",
        "updated_at",
    }
    assert item["division"] == {"slug": "workflow-engineering", "name": "Workflow Engineering"}
    assert item["domain"] == {"slug": "orchops", "name": "OrchOps"}
    assert (item["callsign"], item["tier"], item["lifecycle_state"]) == ("Ember", 3, "retired")


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"division": "nope"}, "division", "No division with slug 'nope'."),
        ({"domain": "nope"}, "domain", "No domain with slug 'nope'."),
        ({"tier": "7"}, "tier", "Tier must be 1, 2 or 3, not '7'."),
        ({"tier": "one"}, "tier", "Tier must be 1, 2 or 3, not 'one'."),
        (
            {"lifecycle_state": "sleeping"},
            "lifecycle_state",
            "Lifecycle state must be one of provisioning, deployed, active, degraded, paused, retired; not 'sleeping'.",
        ),
        ({"q": "x" * 61}, "q", "Ensure this value has at most 60 characters (it has 61)."),
        ({"q": "a\x00"}, "q", "A value cannot hold a NUL character."),
        ({"division": "a\x00"}, "division", "A value cannot hold a NUL character."),
        # A misspelt filter must not answer with the whole registry.
        (
            {"divison": "tool-ecosystem"},
            "divison",
            "Unknown query parameter; this endpoint takes division, domain, lifecycle_state, page, page_size, q, tier.",
        ),
    ],
)
def test_agent_list_bad_filter_is_400_naming_the_parameter(api_as, registry, params, field, message):
    body = assert_problem(api_as("viewer").get(url("agent-list"), params), 400, message)

    assert body["errors"] == [{"field": field, "message": message}]


def test_agent_list_lists_every_bad_filter(api_as, registry):
    body = assert_problem(
        api_as("viewer").get(url("agent-list"), {"division": "nope", "tier": "9"}), 400, "2 problems in the request."
    )

    assert sorted(body["errors"], key=lambda e: e["field"]) == [
        {"field": "division", "message": "No division with slug 'nope'."},
        {"field": "tier", "message": "Tier must be 1, 2 or 3, not '9'."},
    ]


def test_agent_list_pagination_shape(api_as, registry):
    client = api_as("viewer")

    first = client.get(url("agent-list"), {"page_size": 3}).json()
    last = client.get(url("agent-list"), {"page_size": 3, "page": 3}).json()

    assert first.keys() == {"count", "page", "pages", "next", "previous", "results"}
    assert (first["count"], first["page"], first["pages"]) == (7, 1, 3)
    assert first["previous"] is None
    assert first["next"] == "http://testserver/api/v1/agents?page=2&page_size=3"
    assert [a["handle"] for a in first["results"]] == ["ta_00001", "ta_00002", "ta_00008"]
    assert (last["page"], last["next"], [a["handle"] for a in last["results"]]) == (3, None, ["ta_00152"])
    assert last["previous"] == "http://testserver/api/v1/agents?page=2&page_size=3"


def test_agent_list_pagination_keeps_filters_in_links(api_as, registry):
    body = api_as("viewer").get(url("agent-list"), {"domain": "novaops", "page_size": 2}).json()

    assert (body["count"], body["pages"]) == (5, 3)
    assert body["next"] == "http://testserver/api/v1/agents?domain=novaops&page=2&page_size=2"


def test_agent_list_page_out_of_range_is_404(api_as, registry):
    body = assert_problem(api_as("viewer").get(url("agent-list"), {"page": "4", "page_size": 3}), 404)
    assert body["detail"].startswith("Page '4' does not exist: ")


@pytest.mark.parametrize("page", ["0", "abc", "-1"])
def test_agent_list_page_not_a_page_number_is_400(api_as, registry, page):
    body = assert_problem(api_as("viewer").get(url("agent-list"), {"page": page, "page_size": 3}), 400)
    assert body["errors"] == [{"field": "page", "message": f"page is a whole number from 1; not {page!r}."}]


def test_agent_list_page_size_is_at_most_500(api_as, cast):
    Agent.objects.bulk_create(
        Agent(handle=f"ta_{n:05d}", callsign=f"A{n}", division=cast.division, tier=3) for n in range(1, 502)
    )
    client = api_as("viewer")

    largest = client.get(url("agent-list"), {"page_size": 500}).json()
    default = client.get(url("agent-list")).json()

    assert (largest["count"], largest["pages"], len(largest["results"])) == (501, 2, 500)
    assert (default["pages"], len(default["results"])) == (11, 50)
    for refused in ("1000", "lots"):
        assert_problem(client.get(url("agent-list"), {"page_size": refused}), 400)


# --- detail ---


def test_agent_detail_shows_what_the_agent_leads(api_as, registry):
    client = api_as("viewer")

    core = client.get(url("agent-detail", handle="ta_00008")).json()
    atlas = client.get(url("agent-detail", handle="ta_00001")).json()
    beacon = client.get(url("agent-detail", handle="ta_00002")).json()

    assert core["leads_domain"] == {"slug": "novaops", "name": "NovaOps"}
    assert core["leads_division"] is None
    assert atlas["leads_division"] == {"slug": "novacore-runtime", "name": "NovaCore Runtime"}
    assert atlas["leads_domain"] is None
    assert (beacon["leads_division"], beacon["leads_domain"]) == (None, None)
    assert beacon["division"] == {"slug": "novacore-runtime", "name": "NovaCore Runtime"}
    assert (beacon["callsign"], beacon["role_title"], beacon["tier"]) == ("Beacon", "Runtime Engineer", 3)


@pytest.mark.parametrize(
    ("handle", "detail"),
    [
        ("ta_99999", "No agent with handle ta_99999."),
        ("bob", "'bob' is not an agent handle: a handle is 'ta_' followed by five digits."),
        ("ta_0001", "'ta_0001' is not an agent handle: a handle is 'ta_' followed by five digits."),
        ("TA_00001", "'TA_00001' is not an agent handle: a handle is 'ta_' followed by five digits."),
    ],
)
def test_agent_detail_malformed_or_unknown_handle_is_404(api_as, registry, handle, detail):
    assert_problem(api_as("viewer").get(url("agent-detail", handle=handle)), 404, detail)


# --- create ---


def test_lead_creates_an_agent(api_as, registry):
    body = {
        "handle": "ta_00300",
        "callsign": "Nova",
        "division": "tool-ecosystem",
        "tier": 2,
        "role_title": "Tooling Engineer",
        "lifecycle_state": "provisioning",
    }

    response = api_as("lead").post(url("agent-list"), body, format="json")

    assert response.status_code == 201, response.content
    assert response["Location"] == "/api/v1/agents/ta_00300"
    data = response.json()
    assert data["handle"] == "ta_00300"
    assert data["division"] == {"slug": "tool-ecosystem", "name": "Tool Ecosystem"}
    assert data["domain"] == {"slug": "novaops", "name": "NovaOps"}
    assert (data["leads_division"], data["leads_domain"]) == (None, None)
    agent = Agent.objects.get(handle="ta_00300")
    assert (agent.callsign, agent.division.slug, agent.tier, agent.role_title, agent.lifecycle_state) == (
        "Nova",
        "tool-ecosystem",
        2,
        "Tooling Engineer",
        "provisioning",
    )


def test_create_defaults(api_as, registry):
    response = api_as("lead").post(url("agent-list"), NEW_AGENT, format="json")

    assert response.status_code == 201
    agent = Agent.objects.get(handle="ta_00300")
    assert (agent.tier, agent.role_title, agent.lifecycle_state) == (3, "", "active")


def test_create_with_a_taken_handle_is_409(api_as, registry):
    response = api_as("lead").post(url("agent-list"), {**NEW_AGENT, "handle": "ta_00002"}, format="json")

    body = assert_problem(response, 409, "An agent with handle ta_00002 already exists.")
    assert body["title"] == "Conflict"
    assert Agent.objects.get(handle="ta_00002").callsign == "Beacon"


HANDLE_MESSAGE = "A handle is 'ta_' followed by five digits, e.g. ta_00008."
TIER_MESSAGE = "Tier must be 1, 2 or 3."
LIFECYCLE_BY_TRANSITION = serializers.LIFECYCLE_BY_TRANSITION


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"handle": "ta_1"}, "handle", HANDLE_MESSAGE),
        ({"handle": "ta_000300"}, "handle", HANDLE_MESSAGE),
        ({"handle": 300}, "handle", HANDLE_MESSAGE),
        ({"handle": "TA_00300"}, "handle", HANDLE_MESSAGE),
        ({"division": "nope"}, "division", "No division with slug 'nope'."),
        ({"division": 7}, "division", "No division with slug '7'."),
        ({"tier": 0}, "tier", TIER_MESSAGE),
        ({"tier": 4}, "tier", TIER_MESSAGE),
        ({"tier": "high"}, "tier", TIER_MESSAGE),
        (
            {"lifecycle_state": "sleeping"},
            "lifecycle_state",
            "Lifecycle state must be one of provisioning, deployed, active, degraded, paused, retired; not 'sleeping'.",
        ),
        ({"callsign": ""}, "callsign", "This field may not be blank."),
        ({"callsign": "x" * 61}, "callsign", "Ensure this field has no more than 60 characters."),
        ({"callsign": 0}, "callsign", "Not a valid string."),
        ({"callsign": "   "}, "callsign", "This field may not be blank."),
        ({"tier": "2"}, "tier", "Tier must be 1, 2 or 3."),
        ({"tier": 2.0}, "tier", "Tier must be 1, 2 or 3."),
        ({"division": ""}, "division", "This field may not be null."),
        (
            {"colour": "blue"},
            "colour",
            "Unknown field; this request accepts handle, callsign, division, tier, role_title, lifecycle_state.",
        ),
    ],
)
def test_create_with_bad_input_is_400_naming_the_field(api_as, registry, changes, field, message):
    response = api_as("lead").post(url("agent-list"), {**NEW_AGENT, **changes}, format="json")

    body = assert_problem(response, 400, message)
    assert body["errors"] == [{"field": field, "message": message}]
    assert Agent.objects.count() == len(registry)


def test_create_lists_every_missing_field(api_as, registry):
    body = assert_problem(api_as("lead").post(url("agent-list"), {}, format="json"), 400, "3 problems in the request.")

    assert body["errors"] == [
        {"field": "handle", "message": "This field is required."},
        {"field": "callsign", "message": "This field is required."},
        {"field": "division", "message": "This field is required."},
    ]


def test_create_with_a_list_body_is_400(api_as, registry):
    body = assert_problem(api_as("lead").post(url("agent-list"), [NEW_AGENT], format="json"), 400)

    assert body["detail"] == "Invalid data. Expected a dictionary, but got list."
    assert body["errors"] == [{"field": "", "message": body["detail"]}]


# --- update ---


def test_member_edits_an_agent_of_their_division(api_as, registry):
    before = Agent.objects.get(handle="ta_00002").updated_at
    changes = {"callsign": "Beacon II", "role_title": "Senior Runtime Engineer", "tier": 2}

    response = api_as("member").patch(url("agent-detail", handle="ta_00002"), changes, format="json")

    assert response.status_code == 200, response.content
    assert {key: response.json()[key] for key in changes} == changes
    agent = Agent.objects.get(handle="ta_00002")
    assert (agent.callsign, agent.role_title, agent.tier) == tuple(changes.values())
    assert agent.updated_at > before


def test_patch_changes_only_the_fields_sent(api_as, registry):
    response = api_as("lead").patch(url("agent-detail", handle="ta_00008"), {"role_title": ""}, format="json")

    assert response.status_code == 200
    assert response.json()["leads_domain"] == {"slug": "novaops", "name": "NovaOps"}
    agent = Agent.objects.get(handle="ta_00008")
    assert (agent.role_title, agent.callsign, agent.tier) == ("", "Core", 1)


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"handle": "ta_00400"},
            [
                {
                    "field": "handle",
                    "message": "Unknown field; this request accepts callsign, role_title, tier.",
                }
            ],
        ),
        (
            {"division": "tool-ecosystem", "callsign": "Moved"},
            [
                {
                    "field": "division",
                    "message": "Unknown field; this request accepts callsign, role_title, tier.",
                }
            ],
        ),
        (
            {},
            [
                {
                    "field": "",
                    "message": "Nothing to change; send at least one of callsign, role_title, tier.",
                }
            ],
        ),
        ({"tier": 5}, [{"field": "tier", "message": TIER_MESSAGE}]),
        ({"lifecycle_state": "retired", "tier": 2}, [{"field": "lifecycle_state", "message": LIFECYCLE_BY_TRANSITION}]),
        ({"callsign": ""}, [{"field": "callsign", "message": "This field may not be blank."}]),
        ({"callsign": None}, [{"field": "callsign", "message": "This field may not be null."}]),
    ],
)
def test_patch_with_bad_input_is_400(api_as, registry, changes, errors):
    response = api_as("member").patch(url("agent-detail", handle="ta_00002"), changes, format="json")

    body = assert_problem(response, 400)
    assert body["errors"] == errors
    agent = Agent.objects.get(handle="ta_00002")
    assert (agent.callsign, agent.tier, agent.division.slug) == ("Beacon", 3, "novacore-runtime")


def test_patch_a_malformed_handle_is_404(api_as, registry):
    assert_problem(
        api_as("lead").patch(url("agent-detail", handle="core"), {"tier": 2}, format="json"),
        404,
        "'core' is not an agent handle: a handle is 'ta_' followed by five digits.",
    )


# --- the browser path: session login and CSRF ---


@pytest.fixture
def docs_page(settings) -> str:
    """Swagger UI's init script (the split view serves it from the docs URL with ?script), which hands out the CSRF
    cookie like any page with a form: the browser fetches it right after the page.

    Plain static storage: the manifest one needs collectstatic, and pytest-django turns DEBUG off.
    """
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return reverse("api:docs") + "?script="


def _login(username: str) -> APIClient:
    """A browser-like client: signed in through the session, with CSRF checks on."""
    user = get_user_model().objects.get(username=username)
    # UserFactory hashes its password after saving and skips the second save, so store one here.
    user.set_password("pw-for-tests")
    user.save(update_fields=["password"])
    client = APIClient(enforce_csrf_checks=True)
    # A sign-in goes through django-axes' backend, which counts failures per client address: it needs a request.
    assert client.login(request=HttpRequest(), username=username, password="pw-for-tests")
    return client


def test_session_login_needs_the_csrf_token_for_writes(registry, docs_page):
    client = _login("member")
    # Swagger UI sends this cookie back as X-CSRFToken, as any page script would.
    assert client.get(docs_page).status_code == 200
    token = client.cookies["csrftoken"].value
    target = url("agent-detail", handle="ta_00002")

    assert client.get(target).status_code == 200
    refused = client.patch(target, {"callsign": "Beacon II"}, format="json")
    accepted = client.patch(target, {"callsign": "Beacon II"}, format="json", headers={"X-CSRFToken": token})

    assert_problem(refused, 403, "CSRF Failed: CSRF token missing.")
    assert accepted.status_code == 200, accepted.content
    assert Agent.objects.get(handle="ta_00002").callsign == "Beacon II"


def test_session_login_as_lead_creates_with_the_csrf_token(registry, docs_page):
    client = _login("lead")
    assert client.get(docs_page).status_code == 200

    response = client.post(
        url("agent-list"), NEW_AGENT, format="json", headers={"X-CSRFToken": client.cookies["csrftoken"].value}
    )

    assert response.status_code == 201, response.content


# --- query budgets: the same number of queries for 5 and for 60 agents ---


@pytest.mark.parametrize(
    ("name", "params", "budget"),
    [
        ("agent-list", {"page_size": 100}, 2),
        ("agent-list", {"page_size": 100, "domain": "novaops", "q": "agent"}, 3),
        ("agent-list", {"page_size": 100, "division": "novacore-runtime", "tier": "3"}, 3),
    ],
)
def test_list_query_budget(api_as, sized_registry, django_assert_max_num_queries, name, params, budget):
    with django_assert_max_num_queries(budget):
        response = api_as("viewer").get(url(name), params)

    assert response.status_code == 200


def test_list_query_budget_covers_every_agent(api_as, sized_registry):
    body = api_as("viewer").get(url("agent-list"), {"page_size": 100}).json()

    assert body["count"] == len(sized_registry) == len(body["results"])
