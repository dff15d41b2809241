"""The admin is for Tier 1 leads who are staff (novaops.admin.LeadAdminSite)."""

import pytest
from django.contrib import admin
from django.test import Client

from novaops.admin import LEADS_ONLY_MESSAGE, LeadAdminSite

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's


def staff(user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def test_the_project_admin_is_the_lead_admin_site():
    """Every ModelAdmin registers on admin.site; it must be ours for the rule to hold everywhere."""
    assert isinstance(admin.site, LeadAdminSite)


@pytest.mark.parametrize("name", ["lead", "superuser"])
def test_a_staff_lead_gets_in(client_as, cast, name):
    client = client_as(name)
    if name == "lead":
        staff(cast.lead)
    assert client.get("/admin/").status_code == 200


def test_a_staff_member_who_is_not_a_lead_is_refused(client, cast):
    client.force_login(staff(cast.member))
    for path in ("/admin/", "/admin/agents/agent/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.url.startswith("/admin/login/?next=")
    refusal = client.get("/admin/", follow=True)
    assert refusal.status_code == 200
    assert "You are authenticated as member, but are not authorized to access this page" in refusal.content.decode()


def test_the_admin_sign_in_refuses_a_staff_member_who_is_not_a_lead(cast):
    staff(cast.member)
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": "member", "password": PASSWORD})
    assert response.status_code == 200
    assert LEADS_ONLY_MESSAGE in response.content.decode()
    assert client.get("/admin/").status_code == 302, "not signed in by the admin's form"


def test_the_admin_sign_in_lets_a_staff_lead_in(cast):
    staff(cast.lead)
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": "lead", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_lead_who_is_not_staff_is_refused(client, cast):
    client.force_login(cast.lead)
    assert client.get("/admin/").status_code == 302


def test_anonymous_is_sent_to_the_admin_sign_in(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url == "/admin/login/?next=/admin/"
