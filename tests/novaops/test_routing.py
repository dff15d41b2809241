"""Every API path answers with and without its trailing slash; the schema documents one form (novaops/routing.py)."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from agents.models import Agent


def _api_routes() -> list[tuple[str, URLPattern]]:
    """(route under /api/v1/, pattern) for every API pattern but the JSON 404 catch-all."""
    api = next(p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and p.namespace == "api")
    routes: list[tuple[str, URLPattern]] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif pattern.name != "not-found":
                routes.append((prefix + str(pattern.pattern), pattern))

    walk(api.url_patterns, "")
    return routes


def test_every_api_route_has_its_twin_with_the_same_view():
    routes = dict(_api_routes())
    assert len(routes) >= 20, "the walk found the API's routes"
    for route, pattern in routes.items():
        twin = route[:-1] if route.endswith("/") else f"{route}/"
        assert twin in routes, f"/api/v1/{route} has no twin /api/v1/{twin}"
        assert routes[twin].callback is pattern.callback


def test_a_get_answers_the_same_with_the_slash(api_as, cast):
    lead = api_as("lead")
    plain, slashed = lead.get("/api/v1/divisions"), lead.get("/api/v1/divisions/")
    assert plain.status_code == slashed.status_code == 200
    assert plain.json() == slashed.json() and len(plain.json()) == 2


def test_a_post_with_the_slash_keeps_its_body(api_as, cast):
    response = api_as("lead").post(
        "/api/v1/agents/",
        {"handle": "ta_00400", "callsign": "Slash", "division": cast.division.slug},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Agent.objects.get(handle="ta_00400").callsign == "Slash"


@pytest.mark.parametrize("path", ["/api/v1/schema", "/api/v1/schema/", "/api/v1/docs", "/api/v1/docs/"])
def test_schema_and_docs_answer_in_both_forms(api_as, cast, path):
    assert api_as("viewer").get(path).status_code == 200


def test_the_schema_documents_the_canonical_form_only(api_as, cast):
    paths = api_as("viewer").get(reverse("api:schema"), {"format": "json"}).json()["paths"]
    assert "/api/v1/agents" in paths and "/api/v1/metrics/batches" in paths
    assert not [path for path in paths if path.endswith("/")]
    # Prometheus remote write follows its own specification, outside the schema (metrics/apis/remote_write.py).
    undocumented = ("schema/", "docs/", "prom/write")
    named = {route for route, pattern in _api_routes() if pattern.name and route not in undocumented}
    assert len(paths) == len(named), "one schema path per named route"
