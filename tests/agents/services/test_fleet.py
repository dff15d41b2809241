"""Fleet operations: the CSV import (all or nothing, errors by row and column), the bulk change, the export."""

import csv
import io

import pytest

from agents.models import Agent, AgentLifecycleEvent
from agents.services.fleet import (
    IMPORT_HEADER,
    IMPORT_MAX_BYTES,
    agent_bulk,
    agent_import,
    fleet_csv,
    import_text,
)
from novaops.errors import Conflict, Forbidden, InvalidInput, PayloadTooLarge
from tests.factories import AgentFactory

HEADER = ",".join(IMPORT_HEADER)


def csv_of(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def good_rows(n: int, *, division: str = "novacore-runtime", start: int = 1000) -> list[str]:
    states = Agent.Lifecycle.values
    return [
        f"ta_{start + i:05d},Agent {i},{division},{i % 3 + 1},Engineer {i},{states[i % len(states)]}" for i in range(n)
    ]


def errors_of(excinfo) -> list[tuple[int, str]]:
    return [(error["index"], error["field"]) for error in excinfo.value.errors]


# --- import ---


def test_a_good_file_of_500_agents_creates_them_all_with_the_import_in_their_trail(cast):
    result = agent_import(csv_text=csv_of(*good_rows(500)), actor=cast.lead)

    assert result.created and len(result.handles) == 500
    assert Agent.objects.filter(division=cast.division).count() == 500
    agent = Agent.objects.get(handle="ta_01004")
    assert (agent.callsign, agent.tier, agent.role_title, agent.lifecycle_state) == (
        "Agent 4",
        2,
        "Engineer 4",
        "paused",
    )
    events = AgentLifecycleEvent.objects.filter(pgh_label="insert")
    assert events.count() == 500
    assert {event.pgh_context["action"] for event in events} == {"import"}
    assert events.first().pgh_context["user"] == cast.lead.pk


def test_a_dry_run_validates_and_creates_nothing(cast):
    result = agent_import(csv_text=csv_of(*good_rows(3)), actor=cast.lead, dry_run=True)

    assert not result.created
    assert result.handles == ["ta_01000", "ta_01001", "ta_01002"]
    assert result.rows[0]["division"] == cast.division
    assert not Agent.objects.exists()


@pytest.mark.parametrize(
    ("bad_row", "field"),
    [
        ("ta_09999,Bad,no-such-division,1,Engineer,active", "division"),
        ("ta_09999,Bad,novacore-runtime,1,Engineer,suspended", "state"),
        ("ta_09999,Bad,novacore-runtime,4,Engineer,active", "tier"),
        ("ta_09999,Bad,novacore-runtime,one,Engineer,active", "tier"),
        ("TA-9999,Bad,novacore-runtime,1,Engineer,active", "handle"),
        ("ta_09999,,novacore-runtime,1,Engineer,active", "callsign"),
        ("ta_09999," + "x" * 61 + ",novacore-runtime,1,Engineer,active", "callsign"),
        ("ta_09999,Bad,novacore-runtime,1," + "x" * 121 + ",active", "role_title"),
        ("ta_09999,Bad,novacore-runtime,1,Engineer", "row"),
    ],
)
def test_a_bad_row_is_named_by_row_and_column_and_nothing_is_created(cast, bad_row, field):
    rows = good_rows(5)
    rows.insert(3, bad_row)

    with pytest.raises(InvalidInput) as excinfo:
        agent_import(csv_text=csv_of(*rows), actor=cast.lead)

    assert errors_of(excinfo) == [(4, field)]
    assert not Agent.objects.exists()


def test_a_handle_twice_in_the_file_names_the_second_row_and_the_first(cast):
    rows = [*good_rows(3), good_rows(1)[0]]

    with pytest.raises(InvalidInput) as excinfo:
        agent_import(csv_text=csv_of(*rows), actor=cast.lead)

    assert errors_of(excinfo) == [(4, "handle")]
    assert "row 1" in excinfo.value.errors[0]["message"]
    assert not Agent.objects.exists()


def test_a_handle_already_in_the_registry_is_refused_and_nothing_is_created(cast):
    AgentFactory(handle="ta_01001", division=cast.other_division)

    with pytest.raises(InvalidInput) as excinfo:
        agent_import(csv_text=csv_of(*good_rows(3)), actor=cast.lead)

    assert errors_of(excinfo) == [(2, "handle")]
    assert Agent.objects.count() == 1


def test_every_error_of_every_row_is_listed(cast):
    rows = ["ta_01000,A,nowhere,9,T,active", "bad,B,novacore-runtime,1,T,gone"]

    with pytest.raises(InvalidInput) as excinfo:
        agent_import(csv_text=csv_of(*rows), actor=cast.lead)

    assert errors_of(excinfo) == [(1, "division"), (1, "tier"), (2, "handle"), (2, "state")]


@pytest.mark.parametrize(
    "header", ["handle,callsign,division,tier,role,state", "callsign,handle,division,tier,role_title,state", "handle"]
)
def test_a_wrong_header_is_refused(cast, header):
    with pytest.raises(InvalidInput) as excinfo:
        agent_import(csv_text=csv_of(*good_rows(2), header=header), actor=cast.lead)

    assert errors_of(excinfo) == [(0, "header")]
    assert not Agent.objects.exists()


def test_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(InvalidInput) as excinfo:
        import_text(raw=csv_of(*good_rows(2)).replace("Agent 1", "Agént 1").encode("latin-1"))

    assert errors_of(excinfo) == [(0, "file")]


def test_a_utf8_byte_order_mark_is_dropped(cast):
    text = import_text(raw=b"\xef\xbb\xbf" + csv_of(*good_rows(1)).encode())

    assert agent_import(csv_text=text, actor=cast.lead, dry_run=True).handles == ["ta_01000"]


def test_ten_megabytes_of_junk_is_too_large_and_creates_nothing(cast):
    junk = bytes(range(256)) * (10 * 1024 * 1024 // 256)

    with pytest.raises(PayloadTooLarge):
        import_text(raw=junk)
    with pytest.raises(PayloadTooLarge):
        agent_import(csv_text="x" * (IMPORT_MAX_BYTES + 1), actor=cast.lead)
    assert not Agent.objects.exists()


def test_junk_under_the_limit_is_a_header_error(cast):
    with pytest.raises(InvalidInput) as excinfo:
        agent_import(csv_text="\x01\x02 junk ;;; \n" * 1000, actor=cast.lead)

    assert errors_of(excinfo) == [(0, "header")]


def test_more_than_5000_rows_is_too_large(cast):
    with pytest.raises(PayloadTooLarge):
        agent_import(csv_text=csv_of(*good_rows(5001)), actor=cast.lead)


def test_members_import_into_their_own_division_only(cast):
    rows = [*good_rows(2), *good_rows(1, division="tool-ecosystem", start=2000)]

    with pytest.raises(InvalidInput) as excinfo:
        agent_import(csv_text=csv_of(*rows), actor=cast.member)
    assert errors_of(excinfo) == [(3, "division")]

    assert agent_import(csv_text=csv_of(*good_rows(2)), actor=cast.member).created


@pytest.mark.parametrize("name", ["viewer", "no_role", "anonymous"])
def test_viewers_and_strangers_cannot_import(cast, name):
    with pytest.raises(Forbidden):
        agent_import(csv_text=csv_of(*good_rows(1)), actor=cast.by_name(name))


# --- bulk ---


@pytest.fixture
def fleet(cast) -> dict[str, Agent]:
    states = {"ta_00001": "active", "ta_00002": "degraded", "ta_00003": "active", "ta_00004": "provisioning"}
    agents = {
        handle: AgentFactory(handle=handle, division=cast.division, lifecycle_state=state)
        for handle, state in states.items()
    }
    agents["ta_00005"] = AgentFactory(handle="ta_00005", division=cast.other_division, lifecycle_state="active")
    return agents


def states_of(*handles: str) -> list[str]:
    return [Agent.objects.get(handle=handle).lifecycle_state for handle in handles]


def test_a_bulk_transition_changes_every_agent_with_one_trail_row_each(cast, fleet):
    result = agent_bulk(
        actor=cast.member, handles=["ta_00001", "ta_00002", "ta_00003"], transition="pause", reason="upgrade"
    )

    assert result.handles == ["ta_00001", "ta_00002", "ta_00003"]
    assert states_of("ta_00001", "ta_00002", "ta_00003") == ["paused"] * 3
    events = AgentLifecycleEvent.objects.filter(pgh_label="update", lifecycle_state="paused")
    assert events.count() == 3
    assert {(e.pgh_context["action"], e.pgh_context["reason"]) for e in events} == {("pause", "upgrade")}


def test_one_agent_in_the_wrong_state_refuses_the_whole_change_and_is_named(cast, fleet):
    with pytest.raises(Conflict) as excinfo:
        agent_bulk(actor=cast.lead, handles=["ta_00001", "ta_00004", "ta_00003"], transition="pause")

    assert [item["handle"] for item in excinfo.value.extra["refused"]] == ["ta_00004"]
    assert "ta_00004" in excinfo.value.message
    assert states_of("ta_00001", "ta_00003", "ta_00004") == ["active", "active", "provisioning"]
    assert not AgentLifecycleEvent.objects.filter(pgh_label="update").exists()


def test_a_member_is_refused_for_another_divisions_agent_and_nothing_changes(cast, fleet):
    with pytest.raises(Forbidden) as excinfo:
        agent_bulk(actor=cast.member, handles=["ta_00001", "ta_00005"], transition="pause")

    assert [item["handle"] for item in excinfo.value.extra["refused"]] == ["ta_00005"]
    assert states_of("ta_00001", "ta_00005") == ["active", "active"]


def test_a_bulk_deploy_needs_a_version_and_records_it(cast, fleet):
    with pytest.raises(InvalidInput):
        agent_bulk(actor=cast.lead, handles=["ta_00004"], transition="deploy")

    agent_bulk(actor=cast.lead, handles=["ta_00004"], transition="deploy", version="2.1.0")
    assert Agent.objects.get(handle="ta_00004").deployed_version == "2.1.0"


def test_unknown_handles_are_named_and_nothing_changes(cast, fleet):
    with pytest.raises(InvalidInput) as excinfo:
        agent_bulk(actor=cast.lead, handles=["ta_00001", "ta_99999"], transition="pause")

    assert "ta_99999" in excinfo.value.message
    assert states_of("ta_00001") == ["active"]


@pytest.mark.parametrize("kwargs", [{}, {"transition": "fly"}, {"transition": "pause", "division": "both"}])
def test_a_bulk_change_names_one_transition_or_one_division(cast, fleet, kwargs):
    if kwargs.get("division") == "both":
        kwargs["division"] = cast.other_division
    with pytest.raises(InvalidInput):
        agent_bulk(actor=cast.lead, handles=["ta_00001"], **kwargs)


def test_leads_move_agents_to_another_division_in_the_trail(cast, fleet):
    agent_bulk(actor=cast.lead, handles=["ta_00001", "ta_00002"], division=cast.other_division, reason="reorg")

    assert set(Agent.objects.filter(division=cast.other_division).values_list("handle", flat=True)) == {
        "ta_00001",
        "ta_00002",
        "ta_00005",
    }
    event = AgentLifecycleEvent.objects.filter(pgh_label="update").first()
    assert event.pgh_context["action"] == "move" and event.pgh_context["to"] == "tool-ecosystem"


def test_members_cannot_move_agents(cast, fleet):
    with pytest.raises(Forbidden):
        agent_bulk(actor=cast.member, handles=["ta_00001"], division=cast.other_division)
    assert Agent.objects.get(handle="ta_00001").division == cast.division


def test_a_division_lead_is_not_moved_and_is_named(cast, fleet):
    cast.division.lead = fleet["ta_00002"]
    cast.division.save()

    with pytest.raises(Conflict) as excinfo:
        agent_bulk(actor=cast.lead, handles=["ta_00001", "ta_00002"], division=cast.other_division)

    assert excinfo.value.extra["refused"][0]["handle"] == "ta_00002"
    assert Agent.objects.filter(division=cast.division).count() == 4


# --- export ---


def test_the_export_reads_back_as_an_import(cast, fleet):
    AgentFactory(handle="ta_00009", callsign="=cmd()", division=cast.division)
    text = "".join(fleet_csv(agents=Agent.objects.select_related("division").order_by("handle")))

    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == IMPORT_HEADER
    assert rows[1] == ["ta_00001", fleet["ta_00001"].callsign, "novacore-runtime", "3", "Engineer", "active"]
    assert rows[-1][1] == "'=cmd()"
    assert len(rows) == 7
