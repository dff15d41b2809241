"""Every kind of response carries the Content-Security-Policy: scripts from our own origin only, no inline, no eval."""

import pytest
from django.urls import reverse


def _policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _assert_strict(response) -> None:
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    # 'unsafe-inline' only for styles (plotly.js writes style attributes), never for scripts, and no eval anywhere.
    for name, values in policy.items():
        assert "'unsafe-eval'" not in values, name
        if name != "style-src":
            assert "'unsafe-inline'" not in values, name
        assert not any(value.startswith(("http:", "https:", "*")) for value in values), name


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/dashboards/explore/",
        "/dashboards/compare/",
        "/dashboards/divisions/novacore-runtime/",
        "/registry/agents/",
        "/registry/",
        "/registry/domains/novaops/",
        "/registry/divisions/novacore-runtime/",
        "/registry/tokens/",
    ],
)
def test_pages_signed_in(client_as, path):
    response = client_as("lead").get(path)

    assert response.status_code == 200
    _assert_strict(response)


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/login/?next=/"])
def test_sign_in_page(client, db, path):
    response = client.get(path)

    assert response.status_code == 200
    _assert_strict(response)


def test_redirect_to_sign_in(client, db):
    response = client.get("/")

    assert response.status_code == 302
    _assert_strict(response)


@pytest.mark.parametrize(
    ("name", "path", "status"),
    [
        ("lead", "/registry/agents/ta_99999/", 404),
        ("lead", "/dashboards/agents/nobody/", 404),
        ("lead", "/no-such-page/", 404),
        ("viewer", "/registry/tokens/", 403),
        ("lead", "/registry/agents/?division=atlantis", 400),
    ],
)
def test_error_pages(client_as, name, path, status):
    response = client_as(name).get(path)

    assert response.status_code == status
    _assert_strict(response)


def test_figure_json_and_csv(client_as):
    client = client_as("lead")
    for query in ("metric=error_rate_pct", "metric=error_rate_pct&format=csv", "metric=nope"):
        response = client.get(f"/dashboards/figure/?{query}")

        assert response.status_code in (200, 400), query
        _assert_strict(response)


@pytest.mark.parametrize(
    "path", ["/api/v1/agents/", "/api/v1/metrics/catalogue/", "/api/v1/no-such-thing/", "/api/v1/schema/"]
)
def test_api(api_as, path):
    response = api_as("lead").get(path)

    assert response.status_code in (200, 404)
    _assert_strict(response)


def test_api_anonymous(api_client, db):
    response = api_client.get("/api/v1/agents/")

    assert response.status_code in (401, 403)
    _assert_strict(response)


def test_admin(client_as):
    client = client_as("superuser")
    for path in ("/admin/", "/admin/login/", "/admin/agents/agent/"):
        response = client.get(path)

        assert response.status_code in (200, 302), path
        _assert_strict(response)


def test_swagger_ui_and_its_init_script(client, db):
    page = client.get(reverse("api:docs"))
    script = client.get(reverse("api:docs") + "?script=")

    assert page.status_code == 200
    assert "<script>" not in page.content.decode()  # no inline script: the init script is a file of its own
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    _assert_strict(page)
    _assert_strict(script)


def test_health_checks(client, db):
    _assert_strict(client.get("/healthz"))
