"""The occurrences API (meetings/apis/occurrences.py): the calendar's window, an occurrence's agenda and minutes as
stored, and adding action items (who may, on which occurrence)."""

from datetime import UTC, date, datetime

import pytest

from meetings.models import ActionItem, AgendaItem, Attendance, Decision, Occurrence
from meetings.services.occurrences import occurrence_cancel, occurrence_materialise, occurrence_move
from tests.helpers import assert_problem
from tests.meetings.apis import errors, url

# The weekly sync on both sides of the spring-forward (8 March 2026): 09:00 MST, then 09:00 MDT.
MARCH_3 = datetime(2026, 3, 3, 16, tzinfo=UTC)
MARCH_10 = datetime(2026, 3, 10, 15, tzinfo=UTC)
MARCH = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-15T00:00:00Z"}


def _occurrence_url(name: str, series, recurrence_id: str) -> str:
    return url(name, series_id=series.pk, recurrence_id=recurrence_id)


# --- the window ---


def test_the_window_keeps_the_wall_clock_across_daylight_saving(api_of, weekly_sync):
    response = api_of("viewer").get(url("occurrence-list"), MARCH)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["start"], body["end"], body["count"]) == ("2026-03-01T00:00:00Z", "2026-03-15T00:00:00Z", 2)
    first, second = body["results"]
    assert first["series"] == {
        "id": weekly_sync.pk,
        "title": "Weekly sync",
        "kind": "weekly_sync",
        "timezone": "America/Denver",
    }
    assert (first["start"], first["end"], first["status"]) == (
        "2026-03-03T16:00:00Z",
        "2026-03-03T16:30:00Z",
        "scheduled",
    )
    assert (second["start"], second["end"]) == ("2026-03-10T15:00:00Z", "2026-03-10T15:30:00Z")
    assert first["recurrence_id"] == "20260303T160000Z"
    assert first["original_start"] == first["start"]
    assert first["url"] == f"/meetings/series/{weekly_sync.pk}/20260303T160000Z/"


def test_moved_and_cancelled_occurrences_say_so(api_of, crew, weekly_sync):
    moved = occurrence_materialise(series=weekly_sync, original_start=MARCH_3)
    occurrence_move(actor=crew.core, occurrence=moved, start=datetime(2026, 3, 4, 17, tzinfo=UTC))
    cancelled = occurrence_materialise(series=weekly_sync, original_start=MARCH_10)
    occurrence_cancel(actor=crew.core, occurrence=cancelled)

    results = api_of("viewer").get(url("occurrence-list"), MARCH).json()["results"]

    assert [(row["status"], row["start"], row["original_start"]) for row in results] == [
        ("moved", "2026-03-04T17:00:00Z", "2026-03-03T16:00:00Z"),
        ("cancelled", "2026-03-10T15:00:00Z", "2026-03-10T15:00:00Z"),
    ]


def test_an_offset_in_the_window_is_honoured(api_of, weekly_sync):
    # 09:00 Denver on 3 March is 16:00 UTC: a window ending at 09:00-07:00 leaves it out, 09:01-07:00 takes it in.
    window = {"start": "2026-03-03T00:00:00-07:00"}
    assert (
        api_of("viewer").get(url("occurrence-list"), {**window, "end": "2026-03-03T09:00:00-07:00"}).json()["count"]
        == 0
    )
    assert (
        api_of("viewer").get(url("occurrence-list"), {**window, "end": "2026-03-03T09:01:00-07:00"}).json()["count"]
        == 1
    )
    # A "+" left unencoded in a query string arrives as a space, and is read as the "+" it was.
    assert (
        api_of("viewer")
        .get(url("occurrence-list") + "?start=2026-03-03T00:00:00 00:00&end=2026-03-04T00:00:00Z")
        .json()["count"]
        == 1
    )


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"start": "2026-03-01T00:00:00Z"}, "end", "required"),
        ({"end": "2026-03-01T00:00:00Z"}, "start", "required"),
        ({**MARCH, "end": "2026-03-01T00:00:00Z"}, "end", "after start"),
        ({**MARCH, "end": "2027-03-03T00:00:00Z"}, "end", "At most 366 days"),
        ({**MARCH, "start": "2026-03-01T00:00:00"}, "start", "with an offset"),
        ({**MARCH, "start": "2026-03-01"}, "start", "with an offset"),
        ({**MARCH, "start": "1711929600"}, "start", "with an offset"),
        ({**MARCH, "start": "2026-02-30T00:00:00Z"}, "start", "Not a valid date"),
        ({"start": "1800-01-01T00:00:00Z", "end": "1800-02-01T00:00:00Z"}, "start", "Between 2000 and 2100"),
        ({"start": "9999-12-01T00:00:00Z", "end": "9999-12-31T23:59:59Z"}, "end", "Between 2000 and 2100"),
        ({**MARCH, "series": "1"}, "series", "Unknown query parameter"),
    ],
)
def test_a_bad_window_is_a_400_naming_the_parameter(api_of, weekly_sync, query, field, words):
    response = api_of("viewer").get(url("occurrence-list"), query)

    assert_problem(response, 400)
    assert words in errors(response)[field]


def test_tokens_and_strangers_are_refused(token, client, weekly_sync):
    assert "session" in assert_problem(token.get(url("occurrence-list"), MARCH), 403)["detail"]
    assert_problem(client.get(url("occurrence-list"), MARCH), 401)
    agenda = _occurrence_url("occurrence-agenda", weekly_sync, "20260303T160000Z")
    assert "session" in assert_problem(token.get(agenda), 403)["detail"]


# --- agenda and minutes ---


def test_an_agenda_not_built_yet_is_empty_and_says_so(api_of, weekly_sync):
    response = api_of("viewer").get(_occurrence_url("occurrence-agenda", weekly_sync, "20260303T160000Z"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["built"], body["frozen"], body["items"]) == (False, False, [])
    assert body["occurrence"]["start"] == "2026-03-03T16:00:00Z"
    assert body["occurrence"]["frozen_at"] is None
    assert not Occurrence.objects.exists()  # reading stores nothing


def _minutes(crew, weekly_sync) -> Occurrence:
    """The 3 March sync, frozen, held and closed, with a figure, a note, a decision, attendance and an action."""
    occurrence = occurrence_materialise(series=weekly_sync, original_start=MARCH_3)
    moment = datetime(2026, 3, 3, 16, 5, tzinfo=UTC)
    Occurrence.objects.filter(pk=occurrence.pk).update(frozen_at=moment, started_at=moment, closed_at=MARCH_10)
    item = AgendaItem.objects.create(
        occurrence=occurrence,
        position=1,
        kind=AgendaItem.Kind.REGRESSION,
        title="Task latency p95 up 18%",
        division=crew.runtime,
        link="/divisions/novacore-runtime/?from=2026-02-24&to=2026-03-03",
        data={"metric": "task_latency_p95_ms", "before": 410, "after": 484},
        snapshot={"metric": "task_latency_p95_ms", "before": 410, "after": 480},
        notes="Queue migration; watch one more week.",
    )
    AgendaItem.objects.create(occurrence=occurrence, position=2, title="Hand-off hours", added_by=crew.meridian)
    Decision.objects.create(occurrence=occurrence, agenda_item=item, text="Pin the scheduler.", made_by=crew.core)
    Attendance.objects.create(occurrence=occurrence, user=crew.core)
    Attendance.objects.create(occurrence=occurrence, user=crew.workflow_member, present=False)
    ActionItem.objects.create(
        occurrence=occurrence,
        title="Profile the scheduler",
        owner=crew.runtime_member,
        division=crew.runtime,
        due_on=date(2026, 3, 9),
    )
    return occurrence


def test_a_stored_agenda_with_its_frozen_figures(api_of, crew, weekly_sync):
    _minutes(crew, weekly_sync)

    body = api_of("viewer").get(_occurrence_url("occurrence-agenda", weekly_sync, "20260303T160000Z")).json()

    assert (body["built"], body["frozen"]) == (True, True)
    assert body["occurrence"]["frozen_at"] == "2026-03-03T16:05:00Z"
    first, second = body["items"]
    assert (first["kind"], first["title"], first["position"]) == ("regression", "Task latency p95 up 18%", 1)
    assert first["snapshot"]["after"] == 480 and first["data"]["after"] == 484
    assert first["division"] == {"slug": "novacore-runtime", "name": "NovaCore Runtime"}
    assert first["added_by"] is None and second["added_by"]["username"] == "meridian"
    assert second["snapshot"] is None and second["division"] is None


def test_the_minutes(api_of, crew, weekly_sync):
    occurrence = _minutes(crew, weekly_sync)

    body = api_of("runtime_member").get(_occurrence_url("occurrence-minutes", weekly_sync, "20260303T160000Z")).json()

    assert body["closed"] is True
    assert body["occurrence"]["closed_at"] == "2026-03-10T15:00:00Z"
    assert [item["notes"] for item in body["items"]] == ["Queue migration; watch one more week.", ""]
    [decision] = body["decisions"]
    assert (decision["text"], decision["agenda_item"], decision["made_by"]["username"]) == (
        "Pin the scheduler.",
        occurrence.agenda.get(position=1).pk,
        "core",
    )
    assert [(row["person"]["username"], row["present"]) for row in body["attendance"]] == [
        ("core", True),
        ("workflow-member", False),
    ]
    [action] = body["action_items"]
    assert (action["title"], action["owner"]["username"], action["due_on"], action["status"], action["carried"]) == (
        "Profile the scheduler",
        "runtime-member",
        "2026-03-09",
        "open",
        0,
    )


def test_minutes_not_stored_yet_are_empty(api_of, weekly_sync):
    body = api_of("viewer").get(_occurrence_url("occurrence-minutes", weekly_sync, "20260310T150000Z")).json()

    assert body["closed"] is False
    assert body["items"] == body["decisions"] == body["attendance"] == body["action_items"] == []


@pytest.mark.parametrize(
    "recurrence_id",
    ["20260304T160000Z", "20260303T150000Z", "20251230T160000Z", "2026-03-03", "20260303T16000Z", "99991231T235959Z"],
)
def test_no_such_occurrence_is_a_404(api_of, weekly_sync, recurrence_id):
    # A Wednesday, the winter hour after the change, before the series began, malformed, out of range.
    for name in ("occurrence-agenda", "occurrence-minutes"):
        assert_problem(api_of("viewer").get(_occurrence_url(name, weekly_sync, recurrence_id)), 404)


def test_an_unknown_series_is_a_404(api_of, crew):
    assert_problem(api_of("viewer").get("/api/v1/meetings/occurrences/4242/20260303T160000Z/agenda"), 404)


# --- action items ---

ACTION = {"title": "Profile the scheduler", "owner": "runtime-member", "due_on": "2026-03-09"}


def _post_action(client, series, body, recurrence_id="20260303T160000Z"):
    return client.post(_occurrence_url("occurrence-action-items", series, recurrence_id), body, format="json")


def test_a_lead_adds_an_action_item_storing_the_occurrence(api_of, crew, weekly_sync):
    response = _post_action(api_of("meridian"), weekly_sync, {**ACTION, "division": "novacore-runtime"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["carried"], body["version"], body["due_on"]) == ("open", 0, 1, "2026-03-09")
    assert body["division"]["slug"] == "novacore-runtime" and body["owner"]["username"] == "runtime-member"
    item = ActionItem.objects.get(pk=body["id"])
    assert item.occurrence.original_start == MARCH_3


def test_a_member_adds_one_for_their_own_division_only(api_of, weekly_sync):
    member = api_of("runtime_member")
    assert _post_action(member, weekly_sync, {**ACTION, "division": "novacore-runtime"}).status_code == 201
    assert_problem(_post_action(member, weekly_sync, {**ACTION, "division": "workflow-engineering"}), 403)
    assert_problem(_post_action(member, weekly_sync, ACTION), 403)
    assert_problem(_post_action(api_of("viewer"), weekly_sync, ACTION), 403)
    assert ActionItem.objects.count() == 1


def test_the_organiser_adds_any(api_of, crew, weekly_sync):
    weekly_sync.organiser = crew.workflow_member
    weekly_sync.save(update_fields=["organiser"])

    assert _post_action(api_of("workflow_member"), weekly_sync, ACTION).status_code == 201


def test_a_cancelled_or_closed_occurrence_takes_none(api_of, crew, weekly_sync):
    _minutes(crew, weekly_sync)  # 3 March, closed
    occurrence_cancel(actor=crew.core, occurrence=occurrence_materialise(series=weekly_sync, original_start=MARCH_10))

    assert "closed" in assert_problem(_post_action(api_of("core"), weekly_sync, ACTION), 409)["detail"]
    refused = _post_action(api_of("core"), weekly_sync, ACTION, "20260310T150000Z")
    assert "cancelled" in assert_problem(refused, 409)["detail"]
    assert ActionItem.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"owner": "nobody"}, "owner", "No person with username 'nobody'"),
        ({"division": "nowhere"}, "division", "No division with slug 'nowhere'"),
        ({"due_on": "next week"}, "due_on", "Date has wrong format"),
        ({"title": ""}, "title", "blank"),
        ({"status": "done"}, "status", "Unknown field"),
    ],
)
def test_bad_action_items_are_400s(api_of, weekly_sync, change, field, words):
    response = _post_action(api_of("core"), weekly_sync, {**ACTION, **change})

    assert_problem(response, 400)
    assert words in errors(response)[field]


def test_an_action_item_on_no_occurrence_is_a_404(api_of, weekly_sync):
    assert_problem(_post_action(api_of("core"), weekly_sync, ACTION, "20260304T160000Z"), 404)
    assert_problem(
        api_of("core").post("/api/v1/meetings/occurrences/4242/20260303T160000Z/action-items", ACTION, format="json"),
        404,
    )
    assert not Occurrence.objects.exists()
