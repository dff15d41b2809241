"""The meetings API's output shapes: series, the calendar's occurrences, an occurrence's agenda and its minutes.

Occurrences are rendered from meetings.selectors.Slot (an occurrence whether or not it is stored); the agenda and
minutes from the stored rows, with the occurrence they belong to handed over as a Slot in the context.
"""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from agents.serializers import DivisionRefSerializer, DomainRefSerializer
from meetings.models import ActionItem, AgendaItem, MeetingSeries, Occurrence
from meetings.selectors import Slot
from meetings.serializers import rfc3339

FIGURES = {"type": "object", "additionalProperties": True}


@extend_schema_serializer(component_name="MeetingPerson")
class PersonRefSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.get_username()


class InstantField(serializers.DateTimeField):
    """An instant in RFC 3339, UTC, `Z`."""

    def to_representation(self, value: Any) -> str | None:
        return rfc3339(value) if value is not None else None


@extend_schema_serializer(component_name="MeetingSeriesRef")
class SeriesRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=MeetingSeries.Kind.choices)
    timezone = serializers.CharField(help_text="The organiser's IANA zone: the series keeps its wall-clock time there.")


@extend_schema_serializer(component_name="MeetingSeries")
class SeriesOutputSerializer(SeriesRefSerializer):
    uid = serializers.UUIDField(help_text="The series' stable ICS UID.")
    url = serializers.SerializerMethodField(help_text="The series' page.")
    ics_url = serializers.SerializerMethodField(help_text="The series as an .ics download.")
    description = serializers.CharField()
    rrule = serializers.CharField(help_text="RFC 5545 RRULE value, expanded from the local start in `timezone`.")
    start_date = serializers.DateField()
    start_time = serializers.SerializerMethodField(help_text="Local wall-clock time in `timezone` (HH:MM:SS).")
    duration_minutes = serializers.SerializerMethodField()
    domains = DomainRefSerializer(many=True)
    divisions = DivisionRefSerializer(many=True)
    attendees = PersonRefSerializer(many=True)
    organiser = PersonRefSerializer()
    split_from = serializers.IntegerField(
        source="split_from_id", allow_null=True, help_text="The series this one continues after a split."
    )
    sequence = serializers.IntegerField(help_text="Bumped on every change (the ICS SEQUENCE).")
    created_at = InstantField()
    updated_at = InstantField()

    def get_url(self, series: MeetingSeries) -> str:
        return reverse("meetings:series", args=[series.pk])

    def get_ics_url(self, series: MeetingSeries) -> str:
        return reverse("meetings:series_ics", args=[series.pk])

    # A local time has no offset: not an OpenAPI `format: time` (RFC 3339's full-time, which has one).
    @extend_schema_field({"type": "string", "pattern": r"^[0-9]{2}:[0-9]{2}:[0-9]{2}$", "example": "09:00:00"})
    def get_start_time(self, series: MeetingSeries) -> str:
        return series.start_time.isoformat(timespec="seconds")

    def get_duration_minutes(self, series: MeetingSeries) -> int:
        return int(series.duration.total_seconds() // 60)


@extend_schema_serializer(component_name="MeetingSeriesPage")
class SeriesPageSerializer(serializers.Serializer):
    """The shape of novaops.api.Pagination around a page of series (documented explicitly for the schema)."""

    count = serializers.IntegerField(help_text="Series over all pages.")
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SeriesOutputSerializer(many=True)


@extend_schema_serializer(component_name="MeetingOccurrence")
class OccurrenceOutputSerializer(serializers.Serializer):
    """One meeting on the calendar (a Slot), stored or not."""

    series = SeriesRefSerializer()
    recurrence_id = serializers.CharField(help_text="Its original start in UTC (20261208T160000Z): its id.")
    original_start = InstantField(help_text="Where its rule puts it (the ICS RECURRENCE-ID).")
    start = InstantField()
    end = InstantField()
    status = serializers.ChoiceField(choices=Occurrence.Status.choices)
    url = serializers.SerializerMethodField(help_text="The occurrence's page.")

    def get_url(self, slot: Slot) -> str:
        return reverse("meetings:occurrence", args=[slot.series.pk, slot.recurrence_id])


@extend_schema_serializer(component_name="MeetingOccurrenceWindow")
class OccurrenceWindowOutputSerializer(serializers.Serializer):
    start = InstantField()
    end = InstantField()
    count = serializers.IntegerField()
    results = OccurrenceOutputSerializer(many=True, help_text="Every occurrence overlapping [start, end), by start.")


@extend_schema_serializer(component_name="MeetingOccurrenceState")
class OccurrenceStateSerializer(OccurrenceOutputSerializer):
    """An occurrence with where its meeting stands."""

    frozen_at = serializers.SerializerMethodField(help_text="When its agenda's figures were frozen.")
    started_at = serializers.SerializerMethodField()
    closed_at = serializers.SerializerMethodField(help_text="When its minutes were closed.")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_frozen_at(self, slot: Slot) -> str | None:
        return _moment(slot, "frozen_at")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_started_at(self, slot: Slot) -> str | None:
        return _moment(slot, "started_at")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_closed_at(self, slot: Slot) -> str | None:
        return _moment(slot, "closed_at")


def _moment(slot: Slot, name: str) -> str | None:
    value = getattr(slot.occurrence, name, None) if slot.occurrence is not None else None
    return rfc3339(value) if value is not None else None


@extend_schema_serializer(component_name="MeetingAgendaItem")
class AgendaItemOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=AgendaItem.Kind.choices)
    title = serializers.CharField()
    body = serializers.CharField(help_text="Markdown.")
    division = DivisionRefSerializer(allow_null=True)
    link = serializers.CharField(help_text="The live dashboard for the same period, or the ticket; may be empty.")
    data = serializers.SerializerMethodField(help_text="The figures as last built.")
    snapshot = serializers.SerializerMethodField(help_text="The figures as frozen (what was seen); null until then.")
    notes = serializers.CharField()
    source_key = serializers.CharField(help_text="What it is about when not a number: an escalation, an action item.")
    version = serializers.IntegerField()
    added_by = PersonRefSerializer(allow_null=True, help_text="Who added it by hand; null when built from the numbers.")

    @extend_schema_field(FIGURES)
    def get_data(self, item: AgendaItem) -> dict[str, Any]:
        return item.data

    @extend_schema_field({**FIGURES, "nullable": True})
    def get_snapshot(self, item: AgendaItem) -> dict[str, Any] | None:
        return item.snapshot


@extend_schema_serializer(component_name="MeetingAgenda")
class AgendaOutputSerializer(serializers.Serializer):
    occurrence = OccurrenceStateSerializer()
    built = serializers.BooleanField(help_text="False while nothing is stored for it yet: then `items` is empty.")
    frozen = serializers.BooleanField(help_text="Its figures were frozen: each item's `snapshot` is what was seen.")
    items = AgendaItemOutputSerializer(many=True)


@extend_schema_serializer(component_name="MeetingDecision")
class DecisionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    agenda_item = serializers.IntegerField(source="agenda_item_id", allow_null=True, help_text="The item's id.")
    made_by = PersonRefSerializer(allow_null=True)
    created_at = InstantField()


@extend_schema_serializer(component_name="MeetingAttendance")
class AttendanceOutputSerializer(serializers.Serializer):
    person = PersonRefSerializer(source="user")
    present = serializers.BooleanField()


@extend_schema_serializer(component_name="MeetingActionItem")
class ActionItemOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    owner = PersonRefSerializer()
    division = DivisionRefSerializer(allow_null=True)
    due_on = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=ActionItem.Status.choices)
    carried = serializers.IntegerField(help_text="How many later agendas it was carried onto, not done.")
    version = serializers.IntegerField()
    created_at = InstantField()


@extend_schema_serializer(component_name="MeetingMinutes")
class MinutesOutputSerializer(serializers.Serializer):
    occurrence = OccurrenceStateSerializer()
    closed = serializers.BooleanField(help_text="The meeting is over and these minutes are final.")
    items = AgendaItemOutputSerializer(many=True, help_text="The agenda, each item with its notes.")
    decisions = DecisionOutputSerializer(many=True)
    attendance = AttendanceOutputSerializer(many=True)
    action_items = ActionItemOutputSerializer(many=True)
