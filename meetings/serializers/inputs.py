"""The meetings API's input shapes: strict (unknown fields refused), slugs and usernames resolved to rows (an unknown
one is a 400 naming it), item errors kept by position."""

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from agents.models import Division, Domain
from agents.serializers import SLUG_PATTERN, DivisionSlugField, SlugReferenceField
from meetings import constants
from meetings.models import MeetingSeries
from meetings.serializers import DURATION_MINUTES_MAX, WINDOW_DAYS_MAX, WINDOW_MAX, WINDOW_MIN, YEAR_MAX, YEAR_MIN
from novaops.serializers import ItemListField, StrictInputSerializer, StrictIntegerField, TextField

# At most this many of each in a series: the demo organisation has eight divisions and a handful of people.
PARTICIPANTS_MAX = 200
# An unencoded "+" in a query string arrives as a space: "…T10:00:00 02:00" meant "…T10:00:00+02:00".
_LOST_PLUS_RE = re.compile(r"^(.+T[0-9:.]+) ([0-9]{2}:[0-9]{2})$")
_RFC3339_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


@extend_schema_field({"type": "string", "minLength": 1, "pattern": SLUG_PATTERN})
class DomainSlugField(SlugReferenceField):
    """A domain named by its slug."""


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 150, "pattern": r"^[^\u0000]+$"})
class UsernameField(SlugReferenceField):
    """A person named by their username."""


def _division_field(**kwargs: Any) -> DivisionSlugField:
    return DivisionSlugField(
        slug_field="slug",
        queryset=Division.objects.all(),
        error_messages={"does_not_exist": "No division with slug '{value}'.", "invalid": "A division slug is text."},
        **kwargs,
    )


def _domain_field(**kwargs: Any) -> DomainSlugField:
    return DomainSlugField(
        slug_field="slug",
        queryset=Domain.objects.all(),
        error_messages={"does_not_exist": "No domain with slug '{value}'.", "invalid": "A domain slug is text."},
        **kwargs,
    )


def _username_field(**kwargs: Any) -> UsernameField:
    return UsernameField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        error_messages={"does_not_exist": "No person with username '{value}'.", "invalid": "A username is text."},
        **kwargs,
    )


def _list_of(child: serializers.Field, **kwargs: Any) -> ItemListField:
    return ItemListField(child=child, max_length=PARTICIPANTS_MAX, default=list, **kwargs)


@extend_schema_field({"type": "string", "pattern": LOCAL_TIME_PATTERN, "example": "09:00"})
class LocalTimeField(serializers.Field):
    """A wall-clock time without a zone (HH:MM or HH:MM:SS): the zone is the series' own. DRF's TimeField would
    also take an offset (an aware time, which a series' start is not)."""

    def to_internal_value(self, data: Any) -> time:
        if not isinstance(data, str) or not re.fullmatch(LOCAL_TIME_PATTERN, data):
            raise serializers.ValidationError("A local time as HH:MM or HH:MM:SS, e.g. 09:00.")
        return time.fromisoformat(data)

    def to_representation(self, value: time) -> str:
        return value.isoformat(timespec="minutes" if not value.second else "seconds")


@extend_schema_serializer(component_name="MeetingSeriesCreate")
class SeriesCreateInputSerializer(StrictInputSerializer):
    """A new series; fields not listed here are refused."""

    title = TextField(max_length=constants.TITLE_MAX)
    kind = serializers.ChoiceField(
        choices=MeetingSeries.Kind.choices,
        error_messages={
            "invalid_choice": f"Kind must be one of {', '.join(MeetingSeries.Kind.values)}; not '{{input}}'."
        },
    )
    description = TextField(max_length=constants.TEXT_MAX, allow_blank=True, default="")
    rrule = TextField(
        max_length=500,
        help_text="An RFC 5545 RRULE value (with or without `RRULE:`), e.g. FREQ=WEEKLY;BYDAY=TU. DAILY to YEARLY; "
        "the time of day comes from start_time, so BYHOUR, BYMINUTE and BYSECOND are refused.",
    )
    start_date = serializers.DateField(
        help_text=f"The first occurrence's local date (YYYY-MM-DD, years {YEAR_MIN} to {YEAR_MAX})."
    )
    start_time = LocalTimeField(help_text="Local wall-clock time (HH:MM or HH:MM:SS) in `timezone`.")
    timezone = TextField(max_length=64, help_text="The organiser's IANA time zone, e.g. America/Denver.")
    duration_minutes = StrictIntegerField(
        min_value=1, max_value=DURATION_MINUTES_MAX, help_text="How long each occurrence lasts, in whole minutes."
    )
    domains = _list_of(_domain_field(), help_text="Slugs of the domains taking part.")
    divisions = _list_of(_division_field(), help_text="Slugs of the divisions taking part.")
    attendees = _list_of(_username_field(), help_text="Usernames of the people invited.")
    organiser = _username_field(required=False, help_text="Username of the organiser; you by default.")

    def validate_start_date(self, value: date) -> date:
        if not YEAR_MIN <= value.year <= YEAR_MAX:
            raise serializers.ValidationError(f"A series starts between {YEAR_MIN} and {YEAR_MAX}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["duration"] = timedelta(minutes=attrs.pop("duration_minutes"))
        return attrs


class Rfc3339Field(serializers.Field):
    """An RFC 3339 instant with its offset (2026-12-01T00:00:00Z or …-07:00), within the years the API covers."""

    def to_internal_value(self, data: Any) -> datetime:
        text = _LOST_PLUS_RE.sub(r"\1+\2", str(data).strip())
        if not _RFC3339_RE.fullmatch(text):
            raise serializers.ValidationError(
                f"Not an RFC 3339 time with an offset: {str(data)[:40]!r} (e.g. 2026-12-01T00:00:00Z; %2B for +)."
            )
        try:
            moment = datetime.fromisoformat(text.upper())
        except ValueError:
            raise serializers.ValidationError(f"Not a valid date or time: {str(data)[:40]!r}.") from None
        if not WINDOW_MIN <= moment <= WINDOW_MAX:
            raise serializers.ValidationError(f"Between {YEAR_MIN} and {YEAR_MAX}.")
        return moment

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class OccurrenceWindowSerializer(serializers.Serializer):
    """The query of GET /api/v1/meetings/occurrences: both ends required, end after start, at most a year."""

    start = Rfc3339Field()
    end = Rfc3339Field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["end must be after start."]})
        if attrs["end"] - attrs["start"] > timedelta(days=WINDOW_DAYS_MAX):
            raise serializers.ValidationError({"end": [f"At most {WINDOW_DAYS_MAX} days after start."]})
        return attrs


@extend_schema_serializer(component_name="MeetingActionItemCreate")
class ActionItemCreateInputSerializer(StrictInputSerializer):
    """A new action item of an occurrence; it starts open."""

    title = TextField(max_length=constants.TITLE_MAX)
    owner = _username_field(help_text="Username of the person who owns it.")
    due_on = serializers.DateField(required=False, allow_null=True, default=None, help_text="YYYY-MM-DD.")
    division = _division_field(
        required=False,
        allow_null=True,
        default=None,
        help_text="Slug of the division it is for; a division member adds items for their own division only.",
    )
