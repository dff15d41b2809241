"""Fleet operations for many agents at once: a CSV import, a bulk transition or division move, a CSV export.

Each write is all or nothing: one transaction, every row or agent checked first, and a refusal that names every row
(import) or agent (bulk) it refuses. The trail's database triggers record each insert and change with the context
novaops.audit.audited puts around it (actor, action "import" / the transition / "move", reason).
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import can_proceed

from agents.constants import HANDLE_FORMAT, is_handle
from agents.models import Agent, Division
from agents.services.lifecycle import PAST, REASON_MAX, TRANSITIONS, VERSION_MAX, may_transition
from novaops import policies
from novaops.audit import audited
from novaops.errors import Conflict, Forbidden, InvalidInput, PayloadTooLarge

IMPORT_HEADER = ("handle", "callsign", "division", "tier", "role_title", "state")
# An import is a file a person prepares; these bounds keep one request's validation and insert well under a second.
IMPORT_MAX_BYTES = 2 * 1024 * 1024
IMPORT_MAX_ROWS = 5000
BULK_MAX_AGENTS = 1000
CALLSIGN_MAX = Agent._meta.get_field("callsign").max_length
ROLE_TITLE_MAX = Agent._meta.get_field("role_title").max_length


@dataclass
class ImportResult:
    """The rows an import would create (dry run) or created; `created` is False for a preview."""

    rows: list[dict[str, Any]]
    created: bool

    @property
    def handles(self) -> list[str]:
        return [row["handle"] for row in self.rows]


@dataclass
class BulkResult:
    handles: list[str]
    action: str
    division: Division | None = None
    refused: list[dict[str, str]] = field(default_factory=list)


# --- import ---


def import_text(*, raw: bytes) -> str:
    """The CSV text of an uploaded body: 413 over IMPORT_MAX_BYTES, 400 when it is not UTF-8 (a BOM is dropped)."""
    if len(raw) > IMPORT_MAX_BYTES:
        raise PayloadTooLarge(f"An import is at most {IMPORT_MAX_BYTES // (1024 * 1024)} MB; this file is larger.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is not UTF-8 text: save it as CSV UTF-8 and try again.",
            errors=[{"index": 0, "field": "file", "message": f"Byte {exc.start} is not UTF-8."}],
        ) from None


def agent_import(*, csv_text: str, actor: Any, dry_run: bool = False) -> ImportResult:
    """Create the agents of a CSV file (header IMPORT_HEADER; rows numbered from 1, the header being row 0).

    Every row is validated before anything is written; any error raises InvalidInput with every error as
    {"index": row, "field": column, "message"} and creates nothing. Leads import into any division, members into
    their own only; viewers not at all (403). `dry_run` validates and returns the rows without creating them.
    """
    if not policies.can_edit_some_agents(actor):
        raise Forbidden("Only Tier 1 leads and division members can import agents.")
    if len(csv_text.encode()) > IMPORT_MAX_BYTES:
        raise PayloadTooLarge(f"An import is at most {IMPORT_MAX_BYTES // (1024 * 1024)} MB; this file is larger.")
    records = _read_rows(csv_text)
    rows, errors = _validate_rows(records, actor=actor)
    if errors:
        raise InvalidInput(
            f"{len({e['index'] for e in errors})} row(s) cannot be imported; nothing was created.", errors=errors
        )
    if dry_run:
        return ImportResult(rows=rows, created=False)
    agents = [Agent(**{key: value for key, value in row.items() if key != "index"}) for row in rows]
    try:
        with transaction.atomic(), audited(actor, "import", at=timezone.now()):
            Agent.objects.bulk_create(agents)
    except IntegrityError:
        # Another import or create took one of the handles between our check and the insert.
        raise Conflict("Another change took one of these handles meanwhile; nothing was created. Try again.") from None
    return ImportResult(rows=rows, created=True)


def _read_rows(csv_text: str) -> list[list[str]]:
    if "\x00" in csv_text:
        raise _file_error("The file holds NUL characters: it is not a CSV text file.")
    try:
        records = list(csv.reader(io.StringIO(csv_text, newline="")))
    except csv.Error as exc:
        raise _file_error(f"The file is not valid CSV: {exc}.") from None
    records = [record for record in records if any(cell.strip() for cell in record)]
    if not records:
        raise _file_error(f"The file is empty; the first row is the header {','.join(IMPORT_HEADER)}.")
    header = [cell.strip() for cell in records[0]]
    if tuple(header) != IMPORT_HEADER:
        raise InvalidInput(
            "The header row is wrong; nothing was created.",
            errors=[
                {
                    "index": 0,
                    "field": "header",
                    "message": f"The header must be exactly {','.join(IMPORT_HEADER)}, not {','.join(header)[:200]}.",
                }
            ],
        )
    if len(records) - 1 > IMPORT_MAX_ROWS:
        raise PayloadTooLarge(f"An import holds at most {IMPORT_MAX_ROWS} agents; this file has {len(records) - 1}.")
    if len(records) == 1:
        raise _file_error("The file has a header but no agents.")
    return records[1:]


def _file_error(message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"index": 0, "field": "file", "message": message}])


def _validate_rows(records: list[list[str]], *, actor: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    divisions = {division.slug: division for division in Division.objects.all()}
    handles = [record[0].strip() for record in records if record]
    taken = set(Agent.objects.filter(handle__in=handles).values_list("handle", flat=True))
    first_row: dict[str, int] = {}
    rows, errors = [], []
    for index, record in enumerate(records, start=1):
        row, row_errors = _validate_row(index, record, actor=actor, divisions=divisions)
        handle = row.get("handle")
        if handle and handle in first_row:
            row_errors.append(_error(index, "handle", f"{handle} is also on row {first_row[handle]} of this file."))
        elif handle and handle in taken:
            row_errors.append(_error(index, "handle", f"An agent with handle {handle} already exists."))
        if handle:
            first_row.setdefault(handle, index)
        errors.extend(row_errors)
        rows.append(row)
    return rows, errors


def _validate_row(
    index: int, record: list[str], *, actor: Any, divisions: dict[str, Division]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if len(record) != len(IMPORT_HEADER):
        return {}, [_error(index, "row", f"A row has {len(IMPORT_HEADER)} columns; this one has {len(record)}.")]
    handle, callsign, slug, tier, role_title, state = (cell.strip() for cell in record)
    errors = []
    if not is_handle(handle):
        errors.append(_error(index, "handle", f"A handle is {HANDLE_FORMAT}, not '{handle[:40]}'."))
    if not callsign:
        errors.append(_error(index, "callsign", "An agent needs a callsign."))
    elif len(callsign) > CALLSIGN_MAX:
        errors.append(_error(index, "callsign", f"At most {CALLSIGN_MAX} characters."))
    division = divisions.get(slug)
    if division is None:
        errors.append(_error(index, "division", f"No division with slug '{slug[:60]}'."))
    elif not policies.can_edit_division(actor, division.pk):
        errors.append(_error(index, "division", f"You can import into your own division only, not {division.name}."))
    if tier not in ("1", "2", "3"):
        errors.append(_error(index, "tier", f"Tier must be 1, 2 or 3, not '{tier[:20]}'."))
    if len(role_title) > ROLE_TITLE_MAX:
        errors.append(_error(index, "role_title", f"At most {ROLE_TITLE_MAX} characters."))
    if state not in Agent.Lifecycle.values:
        errors.append(
            _error(index, "state", f"State must be one of {', '.join(Agent.Lifecycle.values)}, not '{state[:40]}'.")
        )
    row = {
        "index": index,
        "handle": handle if is_handle(handle) else "",
        "callsign": callsign,
        "division": division,
        "tier": int(tier) if tier in ("1", "2", "3") else None,
        "role_title": role_title,
        "lifecycle_state": state,
    }
    return row, errors


def _error(index: int, column: str, message: str) -> dict[str, Any]:
    return {"index": index, "field": column, "message": message}


# --- bulk change ---


def agent_bulk(
    *,
    actor: Any,
    handles: Sequence[str],
    transition: str = "",
    division: Division | None = None,
    reason: str = "",
    version: str = "",
) -> BulkResult:
    """Make one transition, or one division move (leads only), for every agent named, in one transaction.

    Each agent is checked as agents.services.lifecycle checks one (may this actor, does its state allow it); if any
    is refused, nothing changes and the refusal names each refused agent and why (403 when some may not be touched by
    this actor, else 409), in `refused` of the problem body. Unknown handles are a 400 naming them.
    """
    wanted = _checked_handles(handles, transition=transition, division=division, reason=reason, version=version)
    if division is not None:
        return _move(wanted, actor=actor, division=division, reason=reason)
    return _transition(wanted, actor=actor, name=transition, reason=reason, version=version)


def _checked_handles(
    handles: Sequence[str], *, transition: str, division: Division | None, reason: str, version: str
) -> list[str]:
    """The handles asked for, once each, after checking the rest of the request (400s before any lock)."""
    if bool(transition) == (division is not None):
        raise InvalidInput(
            "Choose either a transition or a division to move to.",
            errors=[{"field": "transition", "message": "Give a transition or a division, not both."}],
        )
    if transition and transition not in TRANSITIONS:
        raise InvalidInput(
            f"Unknown transition '{transition[:40]}'.",
            errors=[{"field": "transition", "message": f"One of {', '.join(TRANSITIONS)}."}],
        )
    if transition == "deploy" and not version.strip():
        raise InvalidInput(
            "A deploy names the version deployed.",
            errors=[{"field": "version", "message": "A deploy names the version deployed."}],
        )
    if len(version) > VERSION_MAX or len(reason) > REASON_MAX:
        field_name = "version" if len(version) > VERSION_MAX else "reason"
        raise InvalidInput("Too long.", errors=[{"field": field_name, "message": "Too long."}])
    wanted = list(dict.fromkeys(handle.strip() for handle in handles))
    if not wanted:
        raise InvalidInput("Select at least one agent.", errors=[{"field": "handles", "message": "Select agents."}])
    if len(wanted) > BULK_MAX_AGENTS:
        raise InvalidInput(
            f"At most {BULK_MAX_AGENTS} agents at once.",
            errors=[{"field": "handles", "message": f"At most {BULK_MAX_AGENTS} agents."}],
        )
    return wanted


def _lock(handles: list[str]) -> list[Agent]:
    # Locked in primary-key order so two bulk changes over overlapping selections cannot deadlock.
    agents = list(
        Agent.objects.select_for_update().select_related("division").filter(handle__in=handles).order_by("pk")
    )
    found = {agent.handle for agent in agents}
    unknown = [handle for handle in handles if handle not in found]
    if unknown:
        raise InvalidInput(
            f"No agents with handles {', '.join(h[:20] for h in unknown[:20])}; nothing was changed.",
            errors=[{"field": "handles", "message": f"No agent {handle[:20]}."} for handle in unknown],
        )
    return agents


def _refuse(refused: list[dict[str, str]], *, forbidden: bool, what: str) -> None:
    names = ", ".join(item["handle"] for item in refused)
    message = f"{len(refused)} agent(s) cannot be {what}: {names}. Nothing was changed."
    error = Forbidden if forbidden else Conflict
    raise error(message, extra={"refused": refused})


def _transition(handles: list[str], *, actor: Any, name: str, reason: str, version: str) -> BulkResult:
    extra = {"reason": reason.strip()} if reason.strip() else {}
    if version.strip():
        extra["version"] = version.strip()
    with transaction.atomic(), audited(actor, name, at=timezone.now(), **extra):
        agents = _lock(handles)
        refused, forbidden = [], False
        for agent in agents:
            if not may_transition(actor, agent):
                forbidden = True
                refused.append({"handle": agent.handle, "reason": f"belongs to {agent.division.name}, not yours"})
            elif not can_proceed(getattr(agent, name)):
                refused.append({"handle": agent.handle, "reason": f"is {agent.get_lifecycle_state_display().lower()}"})
        if refused:
            _refuse(refused, forbidden=forbidden, what=PAST[name])
        for agent in agents:
            method = getattr(agent, name)
            method(version=version.strip()) if name == "deploy" else method()
            agent.save(update_fields=["lifecycle_state", "deployed_version", "updated_at"])
    return BulkResult(handles=[agent.handle for agent in agents], action=name)


def _move(handles: list[str], *, actor: Any, division: Division, reason: str) -> BulkResult:
    if not policies.is_lead(actor):
        raise Forbidden("Only Tier 1 leads can move agents between divisions.")
    extra = {"reason": reason.strip()} if reason.strip() else {}
    with transaction.atomic(), audited(actor, "move", at=timezone.now(), to=division.slug, **extra):
        agents = _lock(handles)
        leading = dict(Division.objects.filter(lead__in=agents).values_list("lead_id", "name"))
        # A division's lead must be one of its own agents (a composite foreign key): name another lead first.
        refused = [
            {"handle": agent.handle, "reason": f"leads {leading[agent.pk]}; name another lead first"}
            for agent in agents
            if agent.pk in leading and agent.division_id != division.pk
        ]
        if refused:
            _refuse(refused, forbidden=False, what=f"moved to {division.name}")
        for agent in agents:
            agent.division = division
            agent.save(update_fields=["division", "updated_at"])
    return BulkResult(handles=[agent.handle for agent in agents], action="move", division=division)


# --- export ---


def fleet_csv(*, agents: Iterable[Agent]) -> Iterator[str]:
    """The agents as CSV lines in the import's format (so an export can be edited and imported elsewhere)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(IMPORT_HEADER)
    yield flush()
    for agent in agents:
        row = [agent.handle, agent.callsign, agent.division.slug, agent.tier, agent.role_title, agent.lifecycle_state]
        # Cells a spreadsheet would run as formulas are quoted with a leading apostrophe (CSV injection).
        writer.writerow(
            [f"'{cell}" if isinstance(cell, str) and cell[:1] and cell[0] in "=+-@\t\r" else cell for cell in row]
        )
        yield flush()
