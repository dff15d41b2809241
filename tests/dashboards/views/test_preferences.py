"""dashboards.views.preferences: the viewer's time zone, used by every chart afterwards."""

import pytest

from dashboards.models import ViewerPreference
from tests.helpers import SESSION_SAVE_QUERIES


@pytest.mark.parametrize("role", ["lead", "member", "viewer"])
def test_every_role_chooses_a_zone_and_returns_to_the_dashboard(client_as, cast, role):
    client = client_as(role)
    page = client.get("/dashboards/preferences/", {"next": "/dashboards/explore/?range=7d"})
    assert page.status_code == 200 and b'<option value="Europe/Berlin">' in page.content

    response = client.post(
        "/dashboards/preferences/", {"time_zone": "Europe/Berlin", "next": "/dashboards/explore/?range=7d"}
    )
    assert response.status_code == 302 and response["Location"] == "/dashboards/explore/?range=7d"
    assert ViewerPreference.objects.get(user=cast.by_name(role)).time_zone == "Europe/Berlin"


def test_the_chosen_zone_is_the_one_charts_use(client_as, cast):
    client = client_as("viewer")
    client.post("/dashboards/preferences/", {"time_zone": "Asia/Tokyo"})
    client.cookies["novaops_tz"] = "Europe%2FParis"  # as the script writes it (encodeURIComponent)

    response = client.get("/dashboards/explore/")
    assert response.context["state"].tz.key == "Asia/Tokyo"

    client.post("/dashboards/preferences/", {"time_zone": ""})  # back to the browser's
    assert client.get("/dashboards/explore/").context["state"].tz.key == "Europe/Paris"


def test_an_unknown_zone_is_a_400_form_error(client_as):
    response = client_as("viewer").post("/dashboards/preferences/", {"time_zone": "Mars/Olympus"})
    assert response.status_code == 400 and not ViewerPreference.objects.exists()


def test_next_never_leaves_the_site(client_as):
    response = client_as("viewer").post("/dashboards/preferences/", {"time_zone": "", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/dashboards/preferences/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_toolbar_links_to_it(client_as):
    content = client_as("viewer").get("/dashboards/explore/", {"range": "6h"}).content.decode()
    assert 'href="/dashboards/preferences/?next=/dashboards/explore/%3Frange%3D6h"' in content


def test_query_budget(client_as, django_assert_max_num_queries):
    client = client_as("viewer")
    with django_assert_max_num_queries(5 + SESSION_SAVE_QUERIES):
        assert client.get("/dashboards/preferences/").status_code == 200
