"""The pages around the registry as its users meet them: signing in and out, and the error pages.

They exercise django.contrib.auth's views, templates/registration, templates/errors and novaops.views rather than
agents code; they stay here, where they have always run, until they find a home under tests/novaops.
"""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects

from novaops import views as error_views


def test_sign_out_is_a_post(client_as, registry):
    client = client_as("lead")
    assertRedirects(client.post(reverse("logout")), reverse("login"), fetch_redirect_response=False)
    assert client.get(reverse("agents:domain_list")).status_code == 302


def test_sign_in_through_the_form_lands_on_the_overview(client, registry):
    response = client.post(reverse("login"), {"username": "lead", "password": "pw-for-tests"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("dashboards:overview")
    assertContains(response, "NovaOps")
    assertContains(response, "Sign out")


def test_sign_in_page_labels_its_fields_and_reports_bad_credentials(client, db):
    response = client.post(reverse("login"), {"username": "nobody", "password": "wrong"})

    assert response.status_code == 200
    assertContains(response, 'for="id_username"')
    assertContains(response, 'for="id_password"')
    assertContains(response, 'role="alert"')


# --- error pages ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["400", "403", "404", "500"])
def test_error_pages_render_without_a_user_or_a_request(db, name, django_assert_num_queries):
    with django_assert_num_queries(0):
        html = render_to_string(f"errors/{name}.html", {"detail": "Because."})

    assert f'<p class="app-error__code">{name}</p>' in html
    assert "Sign out" not in html


def test_403_page_shows_the_detail():
    assert "You shall not pass." in render_to_string("errors/403.html", {"detail": "You shall not pass."})


@pytest.mark.parametrize(
    ("handler", "status"),
    [
        (error_views.bad_request, 400),
        (error_views.permission_denied, 403),
        (error_views.page_not_found, 404),
        (error_views.server_error, 500),
    ],
)
def test_error_handlers_render_for_anonymous_users_without_queries(db, handler, status, django_assert_num_queries):
    request = RequestFactory().get("/somewhere/")
    request.user = AnonymousUser()

    with django_assert_num_queries(0):
        response = handler(request) if status == 500 else handler(request, Exception())

    assert response.status_code == status
    assert b"Sign out" not in response.content
