"""Forms of the calendar pages: a series (with a recurrence helper that writes the RRULE, or a raw RRULE), an
occurrence's move, cancel and scoped edit. Forms check the input's shape; meetings.services.series decides whether
the series can be (a rule with no occurrence, an unknown zone, a duration over a day) and its field errors are put
beside these fields by `service_errors`."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from agents.forms import bootstrap_form
from agents.models import Division, Domain
from meetings import constants, recurrence
from meetings.models import MeetingKind, MeetingSeries
from meetings.services.series import SeriesFields
from novaops.errors import ApplicationError

FREQUENCIES = [("WEEKLY", "Weekly"), ("MONTHLY", "Monthly"), ("DAILY", "Daily"), ("YEARLY", "Yearly")]
WEEKDAYS = [("MO", "Mon"), ("TU", "Tue"), ("WE", "Wed"), ("TH", "Thu"), ("FR", "Fri"), ("SA", "Sat"), ("SU", "Sun")]
ORDINALS = [("1", "first"), ("2", "second"), ("3", "third"), ("4", "fourth"), ("-1", "last")]
MONTHS = [(str(month), date(2000, month, 1).strftime("%b")) for month in range(1, 13)]
MONTHLY_BY = [("day", "On the start date's day of the month"), ("weekday", "On a weekday of the month")]
ENDS = [("never", "Never"), ("count", "After a number of occurrences"), ("until", "On a date")]
SCOPES = [
    ("this", "This occurrence (its time and length only)"),
    ("following", "This and following occurrences"),
    ("all", "All occurrences"),
]
# Offered in the zone field's list; any other IANA name is accepted too.
COMMON_ZONES = [
    "America/Denver",
    "America/Los_Angeles",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
]
# A service error's field → the field of this form it is shown beside.
SERVICE_FIELDS = {"rrule": "rrule", "timezone": "timezone", "duration": "duration", "title": "title"}
SERVICE_FIELDS.update({"start": "start", "end": "end", "scope": "scope"})
LOCAL_INPUT = "%Y-%m-%dT%H:%M"


def _checkboxes(choices: list[tuple[str, str]], label: str) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(choices=choices, required=False, label=label, widget=forms.CheckboxSelectMultiple)


class SeriesForm(forms.Form):
    """A series. The recurrence is the helper's (frequency, interval, weekdays, monthly weekday, months, end) unless
    the advanced RRULE field is filled: then that rule is used as written."""

    title = forms.CharField(max_length=constants.TITLE_MAX)
    kind = forms.ChoiceField(choices=MeetingKind.choices)
    description = forms.CharField(
        required=False, max_length=constants.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )
    frequency = forms.ChoiceField(choices=FREQUENCIES, label="Repeats")
    interval = forms.IntegerField(min_value=1, max_value=99, initial=1, label="Every", help_text="1 = every time.")
    weekdays = _checkboxes(WEEKDAYS, "On")
    monthly_by = forms.ChoiceField(
        choices=MONTHLY_BY, initial="weekday", widget=forms.RadioSelect, label="Monthly", required=False
    )
    ordinal = forms.ChoiceField(choices=ORDINALS, label="Which", required=False)
    ordinal_day = forms.ChoiceField(choices=WEEKDAYS, label="Weekday", required=False)
    months = _checkboxes(MONTHS, "Only in")
    ends = forms.ChoiceField(choices=ENDS, initial="never", widget=forms.RadioSelect, label="Ends", required=False)
    count = forms.IntegerField(min_value=1, max_value=constants.MAX_OCCURRENCES, required=False, label="Occurrences")
    until = forms.DateField(required=False, label="Last date", widget=forms.DateInput(attrs={"type": "date"}))
    rrule = forms.CharField(
        required=False,
        max_length=500,
        label="Advanced: RRULE",
        help_text="An RFC 5545 rule such as FREQ=MONTHLY;BYDAY=1TH. When given, it replaces the choices above.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    start_date = forms.DateField(label="First date", widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(label="Start time", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    timezone = forms.CharField(
        max_length=64,
        label="Time zone",
        help_text="The organiser's: the meeting keeps this wall-clock time across daylight saving. Any IANA name.",
        widget=forms.TextInput(attrs={"list": "zone-list", "autocomplete": "off", "spellcheck": "false"}),
    )
    duration = forms.IntegerField(min_value=0, max_value=100_000, label="Duration (minutes)")
    domains = forms.ModelMultipleChoiceField(queryset=Domain.objects.order_by("name"), required=False)
    divisions = forms.ModelMultipleChoiceField(
        queryset=Division.objects.select_related("domain").order_by("domain__name", "name"), required=False
    )
    attendees = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.filter(person__isnull=False).order_by("username"), required=False
    )

    def __init__(self, *args: Any, start_date: date | None = None, **kwargs: Any) -> None:
        """`start_date` given: the date is not the form's to choose (a scoped edit sets it), the field goes."""
        super().__init__(*args, **kwargs)
        self.fixed_start_date = start_date
        if start_date is not None:
            del self.fields["start_date"]
        self.fields["divisions"].label_from_instance = lambda division: f"{division.name} ({division.domain.name})"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        raw = data.get("rrule", "").strip()
        data["rule"] = raw or self._helper_rule(data)
        return data

    def _start_date(self, data: dict[str, Any]) -> date:
        return self.fixed_start_date or data["start_date"]

    def _helper_rule(self, data: dict[str, Any]) -> str:
        frequency = data["frequency"]
        parts = [f"FREQ={frequency}"]
        if data["interval"] > 1:
            parts.append(f"INTERVAL={data['interval']}")
        if data["months"]:
            parts.append("BYMONTH=" + ",".join(data["months"]))
        if frequency == "WEEKLY" and data["weekdays"]:
            parts.append("BYDAY=" + ",".join(data["weekdays"]))
        if frequency in ("MONTHLY", "YEARLY") and data.get("monthly_by", "weekday") != "day":
            if not data.get("ordinal") or not data.get("ordinal_day"):
                self.add_error("ordinal", "Choose which weekday of the month.")
            else:
                parts.append(f"BYDAY={data['ordinal']}{data['ordinal_day']}")
        parts += self._end_parts(data)
        return ";".join(parts)

    def _end_parts(self, data: dict[str, Any]) -> list[str]:
        if data["ends"] == "count":
            if not data.get("count"):
                self.add_error("count", "How many occurrences?")
                return []
            return [f"COUNT={data['count']}"]
        if data["ends"] == "until":
            until = data.get("until")
            if until is None:
                self.add_error("until", "Give the last date.")
                return []
            if until < self._start_date(data):
                self.add_error("until", "The last date is before the first.")
                return []
            return [f"UNTIL={_until_utc(until, data['timezone'])}"]
        return []

    def series_fields(self) -> SeriesFields:
        """The cleaned form as the services take it (call after is_valid())."""
        data = self.cleaned_data
        return SeriesFields(
            title=data["title"],
            kind=data["kind"],
            rrule=data["rule"],
            start_date=self._start_date(data),
            start_time=data["start_time"],
            timezone=data["timezone"].strip(),
            duration=timedelta(minutes=data["duration"]),
            description=data["description"],
            domains=list(data["domains"]),
            divisions=list(data["divisions"]),
            attendees=list(data["attendees"]),
        )


def _until_utc(until: date, zone_name: str) -> str:
    """The end of the last date in the series' zone, in UTC as RFC 5545 requires (UTC's when the zone is unknown:
    the service reports the zone)."""
    try:
        tz = recurrence.zone(zone_name.strip())
    except recurrence.RuleError:
        tz = UTC
    moment = datetime.combine(until, time(23, 59, 59), tzinfo=tz).astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def series_initial(series: MeetingSeries) -> dict[str, Any]:
    """An edit form's starting values: the rule in the helper when it can say it, else in the raw RRULE field."""
    initial = {
        "title": series.title,
        "kind": series.kind,
        "description": series.description,
        "start_date": series.start_date,
        "start_time": series.start_time,
        "timezone": series.timezone,
        "duration": int(series.duration.total_seconds() // 60),
        "domains": list(series.domains.all()),
        "divisions": list(series.divisions.all()),
        "attendees": list(series.attendees.all()),
    }
    helper = helper_initial(series.rrule, zone_name=series.timezone)
    initial.update(helper if helper is not None else {"rrule": series.rrule})
    return initial


def helper_initial(rule: str, *, zone_name: str) -> dict[str, Any] | None:
    """The helper's fields for a rule it can write, or None (the rule goes in the raw field as it is)."""
    parts = dict(part.partition("=")[::2] for part in rule.upper().removeprefix("RRULE:").split(";") if part)
    if not set(parts) <= {"FREQ", "INTERVAL", "BYDAY", "BYMONTH", "COUNT", "UNTIL"}:
        return None
    initial: dict[str, Any] = {"frequency": parts.get("FREQ"), "interval": parts.get("INTERVAL", "1")}
    initial["months"] = [month for month in parts.get("BYMONTH", "").split(",") if month]
    days = [day for day in parts.get("BYDAY", "").split(",") if day]
    if initial["frequency"] == "WEEKLY":
        initial["weekdays"] = days
        if any(len(day) != 2 for day in days):
            return None
    elif days:
        if len(days) != 1 or (days[0][:-2], days[0][-2:]) not in _ordinal_pairs():
            return None
        initial.update(monthly_by="weekday", ordinal=days[0][:-2], ordinal_day=days[0][-2:])
    else:
        initial["monthly_by"] = "day"
    if "COUNT" in parts:
        initial.update(ends="count", count=parts["COUNT"])
    elif "UNTIL" in parts:
        until = parts["UNTIL"]
        try:
            moment = recurrence.local(datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC), zone_name)
        except (ValueError, recurrence.RuleError):
            return None
        # The helper ends a rule at the end of a day; a split ends it a second before an occurrence (that day's
        # occurrence excluded): only the first is the helper's to say, the other stays exact in the raw field.
        if moment.time() != time(23, 59, 59):
            return None
        initial.update(ends="until", until=moment.date())
    return initial


def _ordinal_pairs() -> set[tuple[str, str]]:
    return {(ordinal, day) for ordinal, _ in ORDINALS for day, _ in WEEKDAYS}


class ScopedEditForm(SeriesForm):
    """An edit from one occurrence: the series' fields and which occurrences it applies to."""

    scope = forms.ChoiceField(choices=SCOPES, initial="this", widget=forms.RadioSelect, label="Apply to")

    field_order = ["scope"]


class MoveForm(forms.Form):
    """One occurrence's new start and end, in the series' wall clock (`zone_name`)."""

    start = forms.DateTimeField(
        input_formats=[LOCAL_INPUT], widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT)
    )
    end = forms.DateTimeField(
        input_formats=[LOCAL_INPUT], widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT)
    )

    def __init__(self, *args: Any, zone_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = recurrence.zone(zone_name)
        for name in ("start", "end"):
            self.fields[name].help_text = f"In {zone_name}."

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("start", "end"):
            if data.get(name) is not None:
                # The page's wall clock is the series' zone, whatever the server's default zone is.
                data[name] = data[name].replace(tzinfo=None).replace(tzinfo=self.zone).astimezone(UTC)
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", "The end is not after the start.")
        return data


class CancelForm(forms.Form):
    confirm = forms.BooleanField(label="Yes, cancel this occurrence", help_text="Its agenda and actions stay.")


def service_errors(form: forms.Form, exc: ApplicationError) -> None:
    """Put a service's refusal beside the fields it names; the message and the rest above the form."""
    form.add_error(None, exc.message)
    for error in exc.errors:
        field = SERVICE_FIELDS.get(error.get("field", ""))
        form.add_error(field if field in form.fields else None, error["message"])


def dress(form: forms.Form) -> forms.Form:
    """bootstrap_form, with Bootstrap's check class on a single checkbox and none on a list of radios or checkboxes
    (bootstrap_form gives every non-select a text field's class; on a list Django puts it on the wrapper too)."""
    bootstrap_form(form)
    for field in form.fields.values():
        if isinstance(field.widget, forms.RadioSelect):
            field.widget.attrs.pop("class", None)
        elif isinstance(field.widget, forms.CheckboxInput):
            field.widget.attrs["class"] = "form-check-input"
    return form
