"""Meeting series (a recurrence in its organiser's time zone), their occurrences with their exceptions, and what a
review session produces: the agenda (with its frozen figures), notes, decisions, attendance and action items.

A series keeps its start as a wall-clock date and time plus an IANA zone, not as a UTC instant: the weekly sync is
at 09:00 in Denver in January and in July, whatever the UTC offset. meetings.recurrence expands the rule in local
time and only then converts each occurrence to UTC.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from agents.models import Division, Domain
from meetings import constants


class MeetingKind(models.TextChoices):
    WEEKLY_SYNC = "weekly_sync", "Weekly sync"
    MONTHLY_DEEP_DIVE = "monthly_deep_dive", "Monthly deep dive"
    QUARTERLY_REVIEW = "quarterly_review", "Quarterly review"
    OTHER = "other", "Other"


class MeetingSeries(models.Model):
    """A recurring meeting: an RFC 5545 RRULE (e.g. FREQ=WEEKLY;BYDAY=TU) from a local start in `timezone`.

    `uid` is the ICS UID of the series (stable across edits); `sequence` is bumped on every change so calendar apps
    take the new version. A "this and following" edit ends this series (UNTIL in its rule) and starts a new one
    whose `split_from` points back here.
    """

    Kind = MeetingKind

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=constants.TITLE_MAX)
    kind = models.CharField(max_length=24, choices=MeetingKind.choices, default=MeetingKind.WEEKLY_SYNC)
    description = models.TextField(blank=True, max_length=constants.TEXT_MAX)
    rrule = models.CharField(max_length=500, help_text="RFC 5545 RRULE value, e.g. FREQ=WEEKLY;BYDAY=TU")
    start_date = models.DateField()
    start_time = models.TimeField()
    timezone = models.CharField(max_length=64, default="UTC")
    duration = models.DurationField()
    domains = models.ManyToManyField(Domain, blank=True, related_name="meeting_series")
    divisions = models.ManyToManyField(Division, blank=True, related_name="meeting_series")
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="meeting_series")
    organiser = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    split_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start_date", "start_time", "title"]
        verbose_name_plural = "meeting series"
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=MeetingKind.values), name="series_kind_valid"),
            models.CheckConstraint(
                condition=Q(duration__gt="0 seconds", duration__lte=constants.MAX_DURATION),
                name="series_duration_within_a_day",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class OccurrenceStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    MOVED = "moved", "Moved"
    CANCELLED = "cancelled", "Cancelled"


class Occurrence(models.Model):
    """One meeting of a series, identified by the start its rule gives it (`original_start`, the ICS RECURRENCE-ID),
    stored once it has anything of its own: an exception (moved, cancelled), an agenda, minutes, a reminder sent.
    Beat materialises the coming weeks' occurrences ahead; one insert per (series, original_start) whoever does it.
    """

    Status = OccurrenceStatus

    series = models.ForeignKey(MeetingSeries, on_delete=models.CASCADE, related_name="occurrences")
    original_start = models.DateTimeField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=OccurrenceStatus.choices, default=OccurrenceStatus.SCHEDULED)
    sequence = models.PositiveIntegerField(default=0)
    frozen_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["series", "original_start"], name="occurrence_once_per_start"),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="occurrence_ends_after_start"),
            models.CheckConstraint(condition=Q(status__in=OccurrenceStatus.values), name="occurrence_status_valid"),
        ]
        indexes = [models.Index(fields=["start"], name="occurrence_start_idx")]

    def __str__(self) -> str:
        return f"{self.series} · {self.start:%Y-%m-%d %H:%M} UTC"


class AgendaItemKind(models.TextChoices):
    METRICS = "metrics", "Key metrics"
    REGRESSION = "regression", "Regression"
    IMPROVEMENT = "improvement", "Improvement"
    ANOMALY = "anomaly", "Anomaly"
    STOPPED = "stopped", "Stopped reporting"
    ESCALATION = "escalation", "Escalation"
    ACTION = "action", "Action item carried over"
    TOPIC = "topic", "Topic"


class AgendaItem(models.Model):
    """One item of an occurrence's agenda: built from the numbers (with the figures in `data`) or added by hand.

    `snapshot` holds the figures as they were when the agenda was frozen: the minutes show what was seen, whatever
    the metrics do later. `version` guards edits: a save that read an older version is refused with the current text.
    """

    Kind = AgendaItemKind

    occurrence = models.ForeignKey(Occurrence, on_delete=models.CASCADE, related_name="agenda")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=AgendaItemKind.choices, default=AgendaItemKind.TOPIC)
    title = models.CharField(max_length=constants.TITLE_MAX)
    body = models.TextField(blank=True, max_length=constants.TEXT_MAX)
    division = models.ForeignKey(Division, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    link = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    snapshot = models.JSONField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=constants.TEXT_MAX)
    # What the item is about when it is not a number: an escalation number, an action item id (for carry-over).
    source_key = models.CharField(max_length=80, blank=True)
    version = models.PositiveIntegerField(default=1)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An item from the numbers that a lead removed: kept (hidden), so refreshing the agenda does not bring it back.
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.CheckConstraint(condition=Q(kind__in=AgendaItemKind.values), name="agenda_kind_valid")]

    def __str__(self) -> str:
        return self.title


class Decision(models.Model):
    occurrence = models.ForeignKey(Occurrence, on_delete=models.CASCADE, related_name="decisions")
    agenda_item = models.ForeignKey(AgendaItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(max_length=constants.TEXT_MAX)
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.text[:60]


class Attendance(models.Model):
    occurrence = models.ForeignKey(Occurrence, on_delete=models.CASCADE, related_name="attendance")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    present = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["occurrence", "user"], name="attendance_once")]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.occurrence_id}: {'present' if self.present else 'absent'}"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    DROPPED = "dropped", "Dropped"


class ActionItem(models.Model):
    """Something a meeting asked someone to do. Not done by the next occurrence of its series, it is carried onto
    that agenda (meetings.services.agenda), and `carried` counts how many times."""

    Status = ActionItemStatus

    occurrence = models.ForeignKey(Occurrence, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=constants.TITLE_MAX)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    division = models.ForeignKey(Division, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    due_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN)
    carried = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ActionItemStatus.values), name="action_status_valid")
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)


class Reminder(models.Model):
    """One reminder per (occurrence, attendee): the unique row is the guard that keeps a retried or doubled beat
    job from mailing twice; it is claimed (sent_at) before the mail goes out."""

    occurrence = models.ForeignKey(Occurrence, on_delete=models.CASCADE, related_name="reminders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, default="reminder")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["occurrence", "user", "kind"], name="reminder_once")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.user_id} for {self.occurrence_id}"


class CalendarFeed(models.Model):
    """A person's secret calendar feed URL (calendar apps cannot send login headers). Only the secret's SHA-256 is
    kept; rotating replaces it, and the old URL stops working."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    prefix = models.CharField(max_length=12, unique=True)
    secret_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user_id}"
