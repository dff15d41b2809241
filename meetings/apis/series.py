"""Series: list (paginated), create (Tier 1 leads), read one. Every role reads."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from meetings.apis import SERIES_PARAMETER, SESSION_ONLY, MeetingApi, problems, series_or_404
from meetings.selectors import series_get, series_list
from meetings.serializers.inputs import SeriesCreateInputSerializer
from meetings.serializers.outputs import SeriesOutputSerializer, SeriesPageSerializer
from meetings.services.series import SeriesFields, series_create
from novaops.api import Pagination, refuse_unknown_parameters

CREATE_EXAMPLE = {
    "title": "Monthly deep dive",
    "kind": "monthly_deep_dive",
    "rrule": "FREQ=MONTHLY;BYDAY=1TH",
    "start_date": "2026-01-01",
    "start_time": "13:00",
    "timezone": "America/Denver",
    "duration_minutes": 120,
    "domains": ["novaops", "orchops"],
    "divisions": ["novacore-runtime", "workflow-engineering"],
    "attendees": ["core", "meridian"],
}


class SeriesListApi(MeetingApi, APIView):
    @extend_schema(
        operation_id="meetings_series_list",
        summary="List meeting series",
        description="Every series, by first occurrence, one page at a time. Any other query parameter is a 400.",
        parameters=Pagination.parameters(),
        responses={200: SeriesPageSerializer, **problems(400, 401, 403, 404)},
        auth=SESSION_ONLY,
    )
    def get(self, request: Request) -> Response:
        refuse_unknown_parameters(request, *Pagination.query_parameters)
        return Pagination.respond(
            request, self, series_list().order_by("start_date", "start_time", "title", "pk"), SeriesOutputSerializer
        )


class SeriesCreateApi(MeetingApi, APIView):
    @extend_schema(
        operation_id="meetings_series_create",
        summary="Create a meeting series",
        description=(
            "For Tier 1 leads. The series repeats by its RRULE from `start_date` at `start_time` in `timezone` (the "
            "wall-clock time holds across daylight saving), each occurrence lasting `duration_minutes` (1 to 1440). "
            "An invalid rule, a rule with no occurrence, an unknown zone, and an unknown slug or username are 400 "
            "problems naming the field."
        ),
        request=SeriesCreateInputSerializer,
        examples=[OpenApiExample("The monthly deep dive", value=CREATE_EXAMPLE, request_only=True)],
        responses={201: SeriesOutputSerializer, **problems(400, 401, 403, 413, 415)},
        auth=SESSION_ONLY,
    )
    def post(self, request: Request) -> Response:
        serializer = SeriesCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organiser = data.pop("organiser", None)
        series = series_create(actor=request.user, fields=SeriesFields(**data), organiser=organiser)
        location = reverse("api:meetings:series-detail", kwargs={"series_id": series.pk})
        body = SeriesOutputSerializer(series_get(series_id=series.pk)).data
        return Response(body, status=201, headers={"Location": location})


class SeriesDetailApi(MeetingApi, APIView):
    @extend_schema(
        operation_id="meetings_series_retrieve",
        summary="Get a meeting series",
        parameters=[SERIES_PARAMETER],
        responses={200: SeriesOutputSerializer, **problems(401, 403, 404)},
        auth=SESSION_ONLY,
    )
    def get(self, request: Request, series_id: int) -> Response:
        return Response(SeriesOutputSerializer(series_or_404(series_id)).data)
