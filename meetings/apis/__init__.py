"""The meetings REST API under /api/v1/meetings, one module per entity: series (list, create, read) and
occurrences (the calendar's window, an occurrence's agenda and minutes, its action items); routes in
meetings.api_urls.

One thin API class per operation: parse input, call one service or selector, render. The services decide who may
act and refuse with novaops.errors, which novaops.api renders as problem JSON; these classes only add what HTTP
knows: a malformed body or query (400), an unknown series or occurrence (404), who is signed in at all (401/403).

Meetings are for people: every operation takes a session only. A division token is recognised (so it is told why,
with a 403) rather than ignored (which would read as "not signed in").
"""

import re
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound

from agents.authentication import DivisionTokenAuthentication
from meetings import recurrence
from meetings.models import MeetingSeries
from meetings.selectors import Slot, series_get, slot_get
from meetings.serializers import ID_MAX, RECURRENCE_ID_PATTERN, WINDOW_MAX, WINDOW_MIN
from novaops.api import MethodRoute, problem_responses
from novaops.permissions import IsPerson
from novaops.serializers import AutoSchema

AUTHENTICATION = [DivisionTokenAuthentication, SessionAuthentication]
SESSION_ONLY = [{"cookieAuth": []}]
SERIES_PARAMETER = OpenApiParameter(
    "series_id", {"type": "integer", "minimum": 1, "maximum": ID_MAX}, OpenApiParameter.PATH, description="Series id."
)
RECURRENCE_ID_PARAMETER = OpenApiParameter(
    "recurrence_id",
    {"type": "string", "pattern": RECURRENCE_ID_PATTERN},
    OpenApiParameter.PATH,
    description="The occurrence's original start in UTC, e.g. 20261208T160000Z (its `recurrence_id`).",
)
FORBIDDEN = "Signed in without a NovaOps role, a division token (meetings take a session), or not allowed this."
NOT_FOUND = "No such series, or no occurrence of it with this id."


class IsMeetingPerson(IsPerson):
    division_client_message = "The meetings API is for people signed in with a session; division tokens cannot use it."


class MeetingApi:
    """What every meetings API class shares (a mixin before APIView)."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsMeetingPerson]
    schema = AutoSchema()


class MeetingRoute(MethodRoute):
    # Methods no API class of the path handles (405) are answered with the same authentication as the others.
    authentication_classes = AUTHENTICATION
    permission_classes = [IsMeetingPerson]
    schema = AutoSchema()


def problems(*statuses: int, **described: str) -> dict[Any, OpenApiResponse]:
    """The problem responses of a meetings operation, for its OpenAPI description."""
    return problem_responses(*statuses, **{"s403": FORBIDDEN, "s404": NOT_FOUND, **described})


def series_or_404(series_id: int) -> MeetingSeries:
    if series_id > ID_MAX:
        raise NotFound(f"No meeting series {series_id}.")
    try:
        return series_get(series_id=series_id)
    except MeetingSeries.DoesNotExist:
        raise NotFound(f"No meeting series {series_id}.") from None


def slot_or_404(series_id: int, recurrence_id: str) -> Slot:
    """The occurrence a path names, stored or not; a 404 for a malformed id or one the series has no occurrence at."""
    series = series_or_404(series_id)
    try:
        if not re.fullmatch(RECURRENCE_ID_PATTERN, recurrence_id):
            raise recurrence.RuleError(recurrence_id)
        original_start = recurrence.recurrence_id_parse(recurrence_id)
    except recurrence.RuleError:
        raise NotFound(f"Not an occurrence id: {recurrence_id[:40]!r} (e.g. 20261208T160000Z).") from None
    # Outside the years the API covers there is no occurrence (and the rule is not expanded for millennia).
    if not WINDOW_MIN <= original_start < WINDOW_MAX:
        raise NotFound(f"“{series.title}” has no occurrence at {recurrence_id}.")
    slot = slot_get(series=series, original_start=original_start)
    if slot is None:
        raise NotFound(f"“{series.title}” has no occurrence at {recurrence_id}.")
    return slot
