"""The fleet pages: the overview, the import with its preview, the bulk change, the export, per role."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent
from agents.services.fleet import IMPORT_HEADER
from agents.services.lifecycle import agent_transition
from tests.factories import AgentFactory

# A day after the agents' trail rows are written (the database's own clock): the liveness rule measures an active
# agent from the later of its last report and when it became active, so "now" must come after both.
NOW = timezone.now().replace(microsecond=0) + timedelta(days=1)
HEADER = ",".join(IMPORT_HEADER)
GOOD = (
    HEADER
    + "\nta_00200,Quill,novacore-runtime,3,Runtime Engineer,provisioning\nta_00201,Rook,novacore-runtime,2,,active\n"
)


@pytest.fixture
def fleet(cast):
    return {
        "ok": AgentFactory(handle="ta_00001", division=cast.division, last_seen_at=NOW - timedelta(minutes=1)),
        "silent": AgentFactory(handle="ta_00002", division=cast.division, last_seen_at=NOW - timedelta(minutes=7)),
        "degraded": AgentFactory(handle="ta_00003", division=cast.other_division, lifecycle_state="degraded"),
        "new": AgentFactory(handle="ta_00004", division=cast.division, lifecycle_state="provisioning"),
    }


@pytest.mark.parametrize(
    ("role", "status"), [("lead", 200), ("member", 200), ("viewer", 200), ("no_role", 403), ("anonymous", 302)]
)
def test_the_fleet_page_answers_each_role(client_as, fleet, role, status):
    response = client_as(role).get(reverse("fleet:overview"))

    assert response.status_code == status
    if status == 200:
        assert (b"Import agents" in response.content) == (role != "viewer")


def test_the_fleet_page_counts_states_and_lists_degraded_and_silent_agents(client_as, fleet, cast):
    agent_transition(agent=fleet["ok"], name="pause", actor=cast.lead, reason="maintenance window")

    with time_machine.travel(NOW, tick=False):
        html = client_as("lead").get(reverse("fleet:overview")).content.decode()

    attention = html.split('id="attention-title"')[1].split("</section>")[0]
    assert "ta_00002" in attention and "Silent" in attention
    assert "ta_00003" in attention and "/dashboards/agents/ta_00003/" in attention
    assert "ta_00001" not in attention and "ta_00004" not in attention
    counts = html.split('id="counts-title"')[1].split("</section>")[0]
    assert "NovaCore Runtime" in counts and "Tool Ecosystem" in counts
    events = html.split('id="events-title"')[1].split("</section>")[0]
    assert "maintenance window" in events and "pause" in events


def test_the_empty_fleet_page_says_so(client_as, cast):
    html = client_as("viewer").get(reverse("fleet:overview")).content.decode()

    assert "Every live agent is reporting." in html and "No transitions yet." in html


@pytest.mark.parametrize(("role", "status"), [("lead", 200), ("member", 200), ("viewer", 403), ("no_role", 403)])
def test_the_import_and_bulk_pages_are_for_leads_and_members(client_as, cast, role, status):
    client = client_as(role)

    assert client.get(reverse("fleet:import")).status_code == status
    assert client.get(reverse("fleet:bulk")).status_code == status
    assert client.post(reverse("fleet:import"), {"csv_text": GOOD, "action": "commit"}).status_code == (
        302 if status == 200 else 403
    )


def test_an_import_previews_then_commits(client_as, cast):
    client = client_as("lead")

    preview = client.post(reverse("fleet:import"), {"csv_text": GOOD, "action": "preview"})
    assert preview.status_code == 200
    assert "Preview: 2 agents to create" in preview.content.decode()
    assert not Agent.objects.exists()

    commit = client.post(reverse("fleet:import"), {"csv_text": GOOD, "action": "commit"}, follow=True)
    assert "Imported 2 agent(s)." in commit.content.decode()
    assert sorted(Agent.objects.values_list("handle", flat=True)) == ["ta_00200", "ta_00201"]


def test_an_uploaded_file_with_errors_lists_them_by_row_and_column(client_as, cast):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = GOOD + "ta_00200,Again,nowhere,1,,active\n"
    upload = SimpleUploadedFile("fleet.csv", bad.encode(), content_type="text/csv")

    response = client_as("lead").post(reverse("fleet:import"), {"file": upload, "action": "preview"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "<td>3</td><td><code>division</code></td>" in html
    assert "<td>3</td><td><code>handle</code></td>" in html
    assert not Agent.objects.exists()


def test_a_file_that_is_not_utf8_is_a_page_error_not_a_500(client_as, cast):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("fleet.csv", GOOD.replace("Quill", "Qüill").encode("latin-1"))

    response = client_as("lead").post(reverse("fleet:import"), {"file": upload, "action": "preview"})

    assert response.status_code == 400
    assert "not UTF-8" in response.content.decode()


@pytest.fixture
def pickable(cast):
    return [
        AgentFactory(handle="ta_00001", division=cast.division),
        AgentFactory(handle="ta_00002", division=cast.division, lifecycle_state="provisioning"),
    ]


def test_a_bulk_change_from_the_page(client_as, pickable):
    response = client_as("member").post(
        reverse("fleet:bulk") + "?division=novacore-runtime",
        {"handles": ["ta_00001"], "operation": "transition:pause", "reason": "upgrade"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("fleet:bulk") + "?division=novacore-runtime"
    assert Agent.objects.get(handle="ta_00001").lifecycle_state == "paused"


def test_a_refused_bulk_change_names_the_refused_agents_and_changes_nothing(client_as, pickable):
    response = client_as("lead").post(
        reverse("fleet:bulk"), {"handles": ["ta_00001", "ta_00002"], "operation": "transition:pause"}
    )

    assert response.status_code == 409
    problem = response.content.decode().split('id="bulk-problem"')[1].split("</div>")[0]
    assert "ta_00002" in problem and "ta_00001" not in problem
    assert '<option value="transition:pause" selected>' in response.content.decode()
    assert Agent.objects.get(handle="ta_00001").lifecycle_state == "active"


def test_the_division_move_is_offered_to_leads_only(client_as, pickable):
    assert "move:tool-ecosystem" in client_as("lead").get(reverse("fleet:bulk")).content.decode()
    member = client_as("member")
    assert "move:tool-ecosystem" not in member.get(reverse("fleet:bulk")).content.decode()
    response = member.post(reverse("fleet:bulk"), {"handles": ["ta_00001"], "operation": "move:tool-ecosystem"})
    assert response.status_code == 403


def test_a_bulk_change_with_nothing_ticked_is_a_400(client_as, pickable):
    assert client_as("lead").post(reverse("fleet:bulk"), {"operation": "transition:pause"}).status_code == 400


def test_the_export_keeps_the_filters(client_as, pickable, cast):
    AgentFactory(handle="ta_00003", division=cast.other_division)
    html = client_as("viewer").get(reverse("agents:agent_list"))  # the registry's own filters
    assert html.status_code == 200

    response = client_as("viewer").get(reverse("fleet:export"), {"division": "novacore-runtime"})

    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == HEADER
    assert [line.split(",")[0] for line in lines[1:]] == ["ta_00001", "ta_00002"]
    assert client_as("viewer").get(reverse("fleet:export"), {"division": "nowhere"}).status_code == 400


def test_the_bulk_page_export_link_keeps_the_filters(client_as, pickable):
    html = client_as("lead").get(reverse("fleet:bulk"), {"division": "novacore-runtime"}).content.decode()

    assert reverse("fleet:export") + "?division=novacore-runtime" in html
