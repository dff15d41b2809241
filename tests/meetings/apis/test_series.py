"""The series API (meetings/apis/series.py): list, create (leads), read; sessions only."""

import pytest

from meetings.models import MeetingSeries
from tests.helpers import assert_problem
from tests.meetings.apis import errors, url

DEEP_DIVE = {
    "title": "Monthly deep dive",
    "kind": "monthly_deep_dive",
    "rrule": "FREQ=MONTHLY;BYDAY=1TH",
    "start_date": "2026-01-01",
    "start_time": "13:00",
    "timezone": "America/Denver",
    "duration_minutes": 120,
    "domains": ["novaops", "orchops"],
    "divisions": ["novacore-runtime", "workflow-engineering"],
    "attendees": ["core", "meridian", "runtime-member"],
}


# --- read ---


def test_every_role_lists_the_series(api_of, weekly_sync):
    response = api_of("viewer").get(url("series-list"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["count"], body["page"], body["pages"]) == (1, 1, 1)
    [series] = body["results"]
    assert series["id"] == weekly_sync.pk
    assert (series["title"], series["kind"], series["timezone"]) == ("Weekly sync", "weekly_sync", "America/Denver")
    assert (series["rrule"], series["start_date"], series["start_time"]) == (
        "FREQ=WEEKLY;BYDAY=TU",
        "2026-01-06",
        "09:00:00",
    )
    assert series["duration_minutes"] == 30
    assert series["url"] == f"/meetings/series/{weekly_sync.pk}/"
    assert series["ics_url"] == f"/meetings/series/{weekly_sync.pk}.ics"
    assert [domain["slug"] for domain in series["domains"]] == ["novaops", "orchops"]
    assert {division["slug"] for division in series["divisions"]} == {"novacore-runtime", "workflow-engineering"}
    assert {person["username"] for person in series["attendees"]} == {
        "core",
        "meridian",
        "runtime-member",
        "workflow-member",
    }
    assert series["organiser"]["username"] == "core"
    assert series["created_at"].endswith("Z")


def test_the_list_pages_and_refuses_unknown_parameters(api_of, weekly_sync):
    assert api_of("viewer").get(url("series-list"), {"page_size": 1, "page": 1}).status_code == 200
    assert_problem(api_of("viewer").get(url("series-list"), {"page": 2}), 404)
    body = assert_problem(api_of("viewer").get(url("series-list"), {"kind": "weekly_sync"}), 400)
    assert body["errors"][0]["field"] == "kind"


def test_one_series(api_of, weekly_sync):
    response = api_of("runtime_member").get(url("series-detail", series_id=weekly_sync.pk))

    assert response.status_code == 200
    assert response.json()["uid"] == str(weekly_sync.uid)
    # Both path forms answer.
    assert api_of("viewer").get(url("series-detail", series_id=weekly_sync.pk) + "/").status_code == 200


@pytest.mark.parametrize("series_id", [999_999, 2**63, 10**30])
def test_an_unknown_series_is_a_404(api_of, crew, series_id):
    assert_problem(api_of("viewer").get(f"/api/v1/meetings/{series_id}"), 404)


# --- who ---


def test_division_tokens_are_told_this_takes_a_session(token, weekly_sync):
    for response in (
        token.get(url("series-list")),
        token.get(url("series-detail", series_id=weekly_sync.pk)),
        token.post(url("series-list"), DEEP_DIVE, format="json"),
    ):
        body = assert_problem(response, 403)
        assert "session" in body["detail"]


def test_anonymous_is_a_401(client, crew):
    response = client.get(url("series-list"))
    assert_problem(response, 401)


# --- create ---


def test_a_lead_creates_a_series(api_of, crew):
    response = api_of("meridian").post(url("series-list"), DEEP_DIVE, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == url("series-detail", series_id=body["id"])
    series = MeetingSeries.objects.get(pk=body["id"])
    assert series.organiser == crew.meridian and series.duration.total_seconds() == 7200
    assert (body["start_time"], body["duration_minutes"], body["rrule"]) == ("13:00:00", 120, "FREQ=MONTHLY;BYDAY=1TH")
    assert {person["username"] for person in body["attendees"]} == {"core", "meridian", "runtime-member"}
    assert len(body["divisions"]) == 2 and len(body["domains"]) == 2


def test_a_lead_names_another_organiser(api_of, crew):
    response = api_of("core").post(url("series-list"), {**DEEP_DIVE, "organiser": "meridian"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["organiser"]["username"] == "meridian"


@pytest.mark.parametrize("name", ["runtime_member", "viewer"])
def test_only_leads_create(api_of, name):
    body = assert_problem(api_of(name).post(url("series-list"), DEEP_DIVE, format="json"), 403)
    assert "Tier 1 leads" in body["detail"]
    assert not MeetingSeries.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"rrule": "FREQ=HOURLY"}, "rrule", "FREQ must be one of"),
        ({"rrule": "FREQ=WEEKLY;BYHOUR=9"}, "rrule", "BYHOUR is not allowed"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "rrule", "Not a valid recurrence rule"),
        ({"rrule": "FREQ=WEEKLY;UNTIL=20250101T000000Z"}, "rrule", "no occurrence"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone"),
        ({"duration_minutes": 0}, "duration_minutes", "greater than or equal to 1"),
        ({"duration_minutes": 1441}, "duration_minutes", "less than or equal to 1440"),
        ({"duration_minutes": "30"}, "duration_minutes", "valid integer"),
        ({"start_time": "9am"}, "start_time", "HH:MM"),
        ({"start_time": "09:00+02:00"}, "start_time", "HH:MM"),
        ({"start_date": "1999-12-31"}, "start_date", "between 2000 and 2100"),
        ({"start_date": "2026-02-30"}, "start_date", "Date has wrong format"),
        ({"kind": "standup"}, "kind", "Kind must be one of"),
        ({"title": "  "}, "title", "blank"),
        ({"organiser": "nobody"}, "organiser", "No person with username 'nobody'"),
        ({"colour": "blue"}, "colour", "Unknown field"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_of, crew, change, field, words):
    response = api_of("core").post(url("series-list"), {**DEEP_DIVE, **change}, format="json")

    body = assert_problem(response, 400)
    assert words in errors(response)[field], body
    assert not MeetingSeries.objects.exists()


def test_unknown_names_are_refused_by_position(api_of, crew):
    response = api_of("core").post(
        url("series-list"), {**DEEP_DIVE, "divisions": ["novacore-runtime", "nowhere"]}, format="json"
    )

    body = assert_problem(response, 400)
    assert body["errors"] == [{"field": "divisions", "message": "No division with slug 'nowhere'.", "index": 1}]


def test_a_body_that_is_not_json_is_a_415(api_of, crew):
    assert_problem(api_of("core").post(url("series-list"), "title=x", content_type="text/plain"), 415)
