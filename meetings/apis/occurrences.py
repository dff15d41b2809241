"""Occurrences: the calendar's window, an occurrence's agenda and minutes (read as stored), and adding an action
item. Every role reads; action items are for leads, the organiser and a taking-part division's members."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from meetings.apis import RECURRENCE_ID_PARAMETER, SERIES_PARAMETER, SESSION_ONLY, MeetingApi, problems, slot_or_404
from meetings.selectors import record_get, slot_list
from meetings.serializers import WINDOW_DAYS_MAX, YEAR_MAX, YEAR_MIN
from meetings.serializers.inputs import ActionItemCreateInputSerializer, OccurrenceWindowSerializer
from meetings.serializers.outputs import (
    ActionItemOutputSerializer,
    AgendaOutputSerializer,
    MinutesOutputSerializer,
    OccurrenceWindowOutputSerializer,
)
from meetings.services.occurrences import occurrence_materialise
from meetings.services.session import ActionFields, action_add
from novaops.api import refuse_unknown_parameters

OCCURRENCE_PARAMETERS = [SERIES_PARAMETER, RECURRENCE_ID_PARAMETER]


def _instant(name: str, words: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.DATETIME, required=True, description=words)


class OccurrenceListApi(MeetingApi, APIView):
    @extend_schema(
        operation_id="meetings_occurrences_list",
        summary="Occurrences in a window",
        description=(
            "Every occurrence of every series overlapping [start, end), by start, cancelled ones included (status "
            "`cancelled`) and moved ones where they now are (status `moved`). `start` and `end` are RFC 3339 times "
            f"with an offset (`2026-12-01T00:00:00Z`; write `+` as `%2B`), both required, end after start, at most "
            f"{WINDOW_DAYS_MAX} days apart, within the years {YEAR_MIN} to {YEAR_MAX}; anything else is a 400 "
            "problem naming the parameter."
        ),
        parameters=[
            _instant("start", "Window start, RFC 3339 with an offset."),
            _instant("end", f"Window end, after start and at most {WINDOW_DAYS_MAX} days later."),
        ],
        responses={200: OccurrenceWindowOutputSerializer, **problems(400, 401, 403)},
        auth=SESSION_ONLY,
    )
    def get(self, request: Request) -> Response:
        refuse_unknown_parameters(request, "start", "end")
        window = OccurrenceWindowSerializer(data=request.query_params)
        window.is_valid(raise_exception=True)
        start, end = window.validated_data["start"], window.validated_data["end"]
        slots = slot_list(start=start, end=end)
        body = {"start": start, "end": end, "count": len(slots), "results": slots}
        return Response(OccurrenceWindowOutputSerializer(body).data)


class AgendaApi(MeetingApi, APIView):
    @extend_schema(
        operation_id="meetings_occurrence_agenda",
        summary="An occurrence's agenda",
        description=(
            "The agenda as stored: each item with its figures (`data`) and, once frozen, the figures as seen "
            "(`snapshot`). Reading never builds an agenda: for an occurrence with nothing stored yet the answer is "
            "`built: false` and no items (the occurrence page builds it)."
        ),
        parameters=OCCURRENCE_PARAMETERS,
        responses={200: AgendaOutputSerializer, **problems(401, 403, 404)},
        auth=SESSION_ONLY,
    )
    def get(self, request: Request, series_id: int, recurrence_id: str) -> Response:
        slot = slot_or_404(series_id, recurrence_id)
        record = record_get(occurrence=slot.occurrence)
        frozen = slot.occurrence is not None and slot.occurrence.frozen_at is not None
        body = {"occurrence": slot, "built": bool(record.items) or frozen, "frozen": frozen, "items": record.items}
        return Response(AgendaOutputSerializer(body).data)


class MinutesApi(MeetingApi, APIView):
    @extend_schema(
        operation_id="meetings_occurrence_minutes",
        summary="An occurrence's minutes",
        description=(
            "What is stored of the meeting: the agenda with its notes and frozen figures, decisions, attendance and "
            "action items; `closed` once the meeting is over and the minutes final. Empty lists before anything is "
            "stored."
        ),
        parameters=OCCURRENCE_PARAMETERS,
        responses={200: MinutesOutputSerializer, **problems(401, 403, 404)},
        auth=SESSION_ONLY,
    )
    def get(self, request: Request, series_id: int, recurrence_id: str) -> Response:
        slot = slot_or_404(series_id, recurrence_id)
        record = record_get(occurrence=slot.occurrence)
        closed = slot.occurrence is not None and slot.occurrence.closed_at is not None
        body = {"occurrence": slot, "closed": closed, **record.__dict__}
        return Response(MinutesOutputSerializer(body).data)


class ActionItemCreateApi(MeetingApi, APIView):
    @extend_schema(
        operation_id="meetings_action_item_create",
        summary="Add an action item",
        description=(
            "An open action item on this occurrence, owned by `owner`. Tier 1 leads and the series' organiser add "
            "any; a division member adds one for their own division (`division`) when it takes part (403 "
            "otherwise). A cancelled occurrence, or one whose minutes are closed, is a 409. Not done by the next "
            "occurrence, the item is carried onto its agenda."
        ),
        parameters=OCCURRENCE_PARAMETERS,
        request=ActionItemCreateInputSerializer,
        responses={201: ActionItemOutputSerializer, **problems(400, 401, 403, 404, 409, 413, 415)},
        auth=SESSION_ONLY,
    )
    def post(self, request: Request, series_id: int, recurrence_id: str) -> Response:
        slot = slot_or_404(series_id, recurrence_id)
        serializer = ActionItemCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        occurrence = slot.occurrence or occurrence_materialise(series=slot.series, original_start=slot.original_start)
        fields = ActionFields(
            title=data["title"],
            owner_id=data["owner"].pk,
            division_id=data["division"].pk if data.get("division") else None,
            due_on=data.get("due_on"),
        )
        item = action_add(actor=request.user, occurrence=occurrence, fields=fields)
        return Response(ActionItemOutputSerializer(item).data, status=201)
