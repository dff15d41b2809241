from django.contrib import admin

from meetings.models import ActionItem, MeetingSeries, Occurrence


@admin.register(MeetingSeries)
class MeetingSeriesAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "rrule", "start_date", "start_time", "timezone", "duration", "organiser"]
    list_filter = ["kind", "timezone"]
    filter_horizontal = ["domains", "divisions", "attendees"]
    readonly_fields = ["uid", "sequence", "split_from"]


@admin.register(Occurrence)
class OccurrenceAdmin(admin.ModelAdmin):
    list_display = ["series", "original_start", "start", "status", "frozen_at", "closed_at"]
    list_filter = ["status", "series"]
    list_select_related = ["series"]


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "division", "due_on", "status", "carried"]
    list_filter = ["status"]
    list_select_related = ["owner", "division"]
