"""One endpoint per transition (escalations/apis/transitions.py): the happy path through every state, and the
refusals the service gives as problems: 403 for the wrong person or a token, 409 for the wrong state, an unmet
resolution requirement or a stale version, 400 for a bad body."""

import pytest

from escalations.models import Escalation
from tests.escalations.apis import url
from tests.helpers import assert_problem


def _post(client, name: str, number: int, body=None):
    return client.post(url(f"escalation-{name}", number=number), body, format="json")


def test_a_friction_moves_from_open_to_closed(api_of, raise_ticket):
    ticket = raise_ticket("friction")  # level 2: core and meridian
    core = api_of("core")

    for name, state in [("acknowledge", "acknowledged"), ("start", "in_progress"), ("wait", "waiting_on_raiser")]:
        response = _post(core, name, ticket.number)
        assert response.status_code == 200, response.content
        assert response.json()["state"] == state
    # The raiser answers and resumes it.
    assert _post(api_of("runtime_member"), "start", ticket.number).json()["state"] == "in_progress"
    core.post(url("escalation-decision", number=ticket.number), {"text": "Handoffs get a retry."}, format="json")
    resolved = _post(core, "resolve", ticket.number).json()
    assert (resolved["state"], resolved["transitions"]) == ("resolved", ["close", "reopen"])
    assert _post(api_of("runtime_member"), "reopen", ticket.number).json()["state"] == "in_progress"
    _post(core, "resolve", ticket.number)
    closed = _post(core, "close", ticket.number, {"version": Escalation.objects.get(pk=ticket.pk).version}).json()
    assert closed["state"] == "closed"
    actions = [entry["action"] for entry in closed["timeline"]]
    assert actions[:4] == ["raise", "acknowledge", "start", "wait"]
    assert actions[-1] == "close"


def test_escalate_moves_up_a_level_to_its_people(api_of, raise_ticket):
    ticket = raise_ticket("resource_conflict")

    body = _post(api_of("runtime_member"), "escalate", ticket.number).json()

    assert body["level"] == 2
    assert {person["username"] for person in body["assignees"]} == {"core", "meridian"}
    assert _post(api_of("core"), "escalate", ticket.number).json()["level"] == 3
    assert_problem(
        _post(api_of("core"), "escalate", ticket.number),
        409,
        f"ESC-{ticket.number} is already at level 3, the top: both Tier 1 leads.",
    )


def test_the_wrong_person_is_a_403_saying_who_may(api_of, raise_ticket):
    ticket = raise_ticket("resource_conflict")

    for name in ("viewer", "tools_member", "runtime_member"):
        assert_problem(
            _post(api_of(name), "acknowledge", ticket.number),
            403,
            f"You cannot acknowledge ESC-{ticket.number}: only its assignees or a Tier 1 lead can.",
        )
    assert Escalation.objects.get(pk=ticket.pk).state == "open"


def test_a_division_token_is_told_to_sign_in(token_of, raise_ticket):
    ticket = raise_ticket("friction")

    assert_problem(
        _post(token_of(), "acknowledge", ticket.number),
        403,
        f"A division token can raise and comment on escalations; to acknowledge ESC-{ticket.number} sign in as a "
        "person.",
    )


def test_the_wrong_state_is_a_409_saying_what_can_follow(api_of, raise_ticket):
    ticket = raise_ticket("friction")

    body = assert_problem(
        _post(api_of("core"), "close", ticket.number),
        409,
        f"ESC-{ticket.number} cannot be closed: it is open. From here it can be acknowledged, started, escalated.",
    )
    assert body["state"] == "open"


def test_resolving_without_the_outcome_is_a_409(api_of, raise_ticket):
    ticket = raise_ticket("resource_conflict")
    _post(api_of("runtime_lead"), "start", ticket.number)

    assert_problem(
        _post(api_of("runtime_lead"), "resolve", ticket.number),
        409,
        f"ESC-{ticket.number} cannot be resolved yet: a resource conflict needs at least one claim and a decided "
        "allocation.",
    )


def test_a_stale_version_is_a_409_and_nothing_moves(api_of, raise_ticket):
    ticket = raise_ticket("friction")
    _post(api_of("core"), "acknowledge", ticket.number)

    body = assert_problem(_post(api_of("meridian"), "start", ticket.number, {"version": 1}), 409)

    assert (body["state"], body["version"]) == ("acknowledged", 2)
    assert Escalation.objects.get(pk=ticket.pk).state == "acknowledged"


@pytest.mark.parametrize("body", [{"version": "2"}, {"version": 0}, {"version": 1.5}, {"versoin": 1}, ["x"]])
def test_a_bad_body_is_a_400(api_of, raise_ticket, body):
    ticket = raise_ticket("friction")

    assert_problem(_post(api_of("core"), "acknowledge", ticket.number, body), 400)
    assert Escalation.objects.get(pk=ticket.pk).state == "open"


def test_get_is_a_405_with_allow(api_of, raise_ticket):
    ticket = raise_ticket("friction")

    response = api_of("core").get(url("escalation-acknowledge", number=ticket.number))

    assert_problem(response, 405)
