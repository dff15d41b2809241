"""Fleet API: import agents from CSV, change many agents at once, export the fleet as CSV.

The writes are for people signed in with a session (a division token is refused with a 403 that says why); the
export reads like the agent list (a division token exports its own division's agents).
"""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.apis import AUTHENTICATION, SESSION_ONLY, WRITE_FORBIDDEN_BY_TOKEN, problems
from agents.apis.agents import CanEditAgents
from agents.filters import AgentFilter
from agents.models import Agent, Division
from agents.selectors import agent_list_filtered
from agents.services.fleet import (
    IMPORT_HEADER,
    IMPORT_MAX_BYTES,
    IMPORT_MAX_ROWS,
    agent_bulk,
    agent_import,
    fleet_csv,
    import_text,
)
from agents.services.lifecycle import TRANSITIONS
from novaops.api import refuse_unknown_parameters
from novaops.errors import PayloadTooLarge, UnsupportedMediaType
from novaops.permissions import IsPerson, IsPersonOrDivisionClient
from novaops.policies import division_scope

CSV_EXAMPLE = ",".join(IMPORT_HEADER) + "\nta_00200,Quill,novacore-runtime,3,Runtime Engineer,provisioning\n"
FILTER_PARAMETERS = [
    OpenApiParameter("q", OpenApiTypes.STR, description="Handle prefix, or text in callsign or role title."),
    OpenApiParameter("domain", OpenApiTypes.STR, description="Domain slug."),
    OpenApiParameter("division", OpenApiTypes.STR, description="Division slug."),
    OpenApiParameter("tier", {"type": "string", "enum": ["1", "2", "3", ""]}, description="Blank for any."),
    OpenApiParameter(
        "lifecycle_state", {"type": "string", "enum": [*Agent.Lifecycle.values, ""]}, description="Blank for any."
    ),
]


class FleetImportRowSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The row: 1 is the first agent after the header.")
    handle = serializers.CharField()
    callsign = serializers.CharField()
    division = serializers.CharField(help_text="Division slug.")
    tier = serializers.IntegerField()
    role_title = serializers.CharField()
    lifecycle_state = serializers.CharField()


class FleetImportOutputSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    count = serializers.IntegerField()
    handles = serializers.ListField(child=serializers.CharField())
    rows = FleetImportRowSerializer(many=True, required=False, help_text="The rows, on a dry run.")


class FleetBulkInputSerializer(serializers.Serializer):
    handles = serializers.ListField(child=serializers.CharField(max_length=20), min_length=1, max_length=1000)
    transition = serializers.ChoiceField(choices=TRANSITIONS, required=False)
    division = serializers.SlugRelatedField(slug_field="slug", queryset=Division.objects.all(), required=False)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    version = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")


class FleetBulkOutputSerializer(serializers.Serializer):
    action = serializers.CharField()
    division = serializers.CharField(allow_null=True)
    handles = serializers.ListField(child=serializers.CharField())


def _import_row(row: dict) -> dict:
    return {**row, "division": row["division"].slug}


class FleetImportApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPerson, CanEditAgents]

    @extend_schema(
        operation_id="agents_import",
        summary="Import agents from CSV",
        description=(
            f"A `text/csv` body in UTF-8, header row exactly `{','.join(IMPORT_HEADER)}`, at most "
            f"{IMPORT_MAX_BYTES // (1024 * 1024)} MB and {IMPORT_MAX_ROWS} agents. Every row is checked before "
            "anything is written: any error is a 400 problem listing each as {index: row (1 = first agent row, 0 = "
            "the file or header), field: column, message}, and nothing is created. Tier 1 leads import into any "
            "division, division members into their own. `dry_run=true` previews (200 with the rows); otherwise 201 "
            "with the created handles."
        ),
        parameters=[OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="Validate and preview only.")],
        request={"text/csv": {"type": "string"}},
        examples=[OpenApiExample("One agent", value=CSV_EXAMPLE, request_only=True, media_type="text/csv")],
        responses={
            200: FleetImportOutputSerializer,
            201: FleetImportOutputSerializer,
            **problems(400, 401, 403, 409, 413, 415, forbidden=f"A viewer, or {WRITE_FORBIDDEN_BY_TOKEN}."),
        },
        auth=SESSION_ONLY,
    )
    def post(self, request: Request) -> Response:
        refuse_unknown_parameters(request, "dry_run")
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type != "text/csv":
            raise UnsupportedMediaType(f"Send text/csv, not {content_type[:60] or 'nothing'}.")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > IMPORT_MAX_BYTES:
            raise PayloadTooLarge(f"An import is at most {IMPORT_MAX_BYTES // (1024 * 1024)} MB; this body is larger.")
        dry_run = request.query_params.get("dry_run", "").lower() in ("true", "1", "yes")
        text = import_text(raw=request._request.read(IMPORT_MAX_BYTES + 1))
        result = agent_import(csv_text=text, actor=request.user, dry_run=dry_run)
        body = {"dry_run": dry_run, "count": len(result.rows), "handles": result.handles}
        if dry_run:
            body["rows"] = [_import_row(row) for row in result.rows]
        return Response(body, status=200 if dry_run else 201)


class FleetBulkApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPerson, CanEditAgents]

    @extend_schema(
        operation_id="agents_bulk",
        summary="Change many agents at once",
        description=(
            "One lifecycle transition (`transition`, with `version` for a deploy) or one division move (`division`, "
            "Tier 1 leads only) for every agent in `handles`, in one transaction. Each agent is checked as a single "
            "transition would be; if any is refused nothing changes, and the problem's `refused` lists each refused "
            "agent with the reason (403 when the caller may not change some of them, 409 when their state refuses)."
        ),
        request=FleetBulkInputSerializer,
        responses={
            200: FleetBulkOutputSerializer,
            **problems(
                400, 401, 403, 409, 415, forbidden=f"Not allowed for some agents, or {WRITE_FORBIDDEN_BY_TOKEN}."
            ),
        },
        auth=SESSION_ONLY,
    )
    def post(self, request: Request) -> Response:
        serializer = FleetBulkInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = agent_bulk(
            actor=request.user,
            handles=data["handles"],
            transition=data.get("transition", ""),
            division=data.get("division"),
            reason=data["reason"],
            version=data["version"],
        )
        division = result.division.slug if result.division else None
        return Response({"action": result.action, "division": division, "handles": result.handles})


class FleetExportApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="agents_export",
        summary="Export agents as CSV",
        description=(
            "The agents the list would show for the same filters, as `text/csv` in the import's format (so an export "
            "can be edited and imported). A division token exports its own division's agents."
        ),
        parameters=FILTER_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The agents, header row first."),
            **problems(400, 401, 403),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        refuse_unknown_parameters(request, *AgentFilter.Meta.fields)
        agents = agent_list_filtered(filters=request.query_params, division_id=division_scope(request.user))
        response = StreamingHttpResponse(fleet_csv(agents=agents.iterator(chunk_size=500)), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="fleet.csv"'
        return response
