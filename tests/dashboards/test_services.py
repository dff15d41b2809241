"""dashboards.services: saved views (leads only, names unique whatever the case, queries that open) and the time
zone preference."""

import pytest

from dashboards.models import SavedView, ViewerPreference
from dashboards.services.preferences import viewer_time_zone_set
from dashboards.services.saved_views import saved_view_create, saved_view_delete, saved_view_rename
from novaops.errors import Conflict, Forbidden, InvalidInput


def test_a_lead_saves_a_view_with_its_query_checked(cast):
    view = saved_view_create(
        user=cast.lead, name="  Errors   by division ", page="explore", query="?range=7d&group=division"
    )

    assert (view.name, view.page, view.query, view.created_by) == (
        "Errors by division",
        "explore",
        "range=7d&group=division",
        cast.lead,
    )


@pytest.mark.parametrize("role", ["member", "viewer", "no_role"])
def test_only_leads_manage_saved_views(cast, role):
    user = cast.by_name(role)
    with pytest.raises(Forbidden, match="Tier 1 leads"):
        saved_view_create(user=user, name="Mine", page="explore", query="")
    view = saved_view_create(user=cast.lead, name="Shared", page="compare", query="")
    with pytest.raises(Forbidden):
        saved_view_rename(user=user, view=view, name="Taken over")
    with pytest.raises(Forbidden):
        saved_view_delete(user=user, view=view)
    assert SavedView.objects.get().name == "Shared"


def test_names_are_unique_whatever_the_case(cast):
    saved_view_create(user=cast.lead, name="Latency", page="explore", query="")
    other = saved_view_create(user=cast.lead, name="Errors", page="explore", query="")

    with pytest.raises(Conflict, match="already called “LATENCY”"):
        saved_view_create(user=cast.lead, name="LATENCY", page="compare", query="")
    with pytest.raises(Conflict):
        saved_view_rename(user=cast.lead, view=other, name="latency")
    assert saved_view_rename(user=cast.lead, view=other, name="ERRORS").name == "ERRORS"


@pytest.mark.parametrize(("name", "field"), [("", "name"), ("   ", "name"), ("x" * 81, "name")])
def test_blank_or_long_names_are_refused(cast, name, field):
    with pytest.raises(InvalidInput) as refused:
        saved_view_create(user=cast.lead, name=name, page="explore", query="")
    assert refused.value.errors[0]["field"] == field


@pytest.mark.parametrize(
    ("page", "query", "field"),
    [("dashboard", "", "page"), ("explore", "range=soon", "range"), ("explore", "colour=red", "colour"),
     ("compare", "x" * 2001, "query")],
)  # fmt: skip
def test_a_query_that_would_not_open_is_refused(cast, page, query, field):
    with pytest.raises(InvalidInput) as refused:
        saved_view_create(user=cast.lead, name="View", page=page, query=query)
    assert field in {error["field"] for error in refused.value.errors}
    assert not SavedView.objects.exists()


def test_the_time_zone_preference_is_an_iana_zone_or_the_browsers(cast):
    assert viewer_time_zone_set(user=cast.viewer, time_zone="Asia/Tokyo").time_zone == "Asia/Tokyo"
    assert viewer_time_zone_set(user=cast.viewer, time_zone="").time_zone == ""
    assert ViewerPreference.objects.filter(user=cast.viewer).count() == 1
    with pytest.raises(InvalidInput, match="not an IANA time zone"):
        viewer_time_zone_set(user=cast.viewer, time_zone="Mars/Olympus")
