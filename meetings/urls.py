"""Meeting pages under /meetings/ (namespace `meetings`)."""

from django.urls import path

from meetings.views import calendar, feeds, occurrences, series

app_name = "meetings"
urlpatterns = [
    # ?view=month|week|agenda&date=YYYY-MM-DD
    path("", calendar.calendar, name="calendar"),
    path("series/new/", series.series_create, name="series_create"),
    path("series/<int:series_id>/", series.series_detail, name="series"),
    path("series/<int:series_id>/edit/", series.series_edit, name="series_edit"),
    path("series/<int:series_id>.ics", feeds.series_ics, name="series_ics"),
    # An occurrence is named by its series and the start its rule gives it, in UTC (20261208T160000Z): a link
    # that works before the occurrence is stored, and stays the same when it is moved.
    path("series/<int:series_id>/<str:recurrence_id>/", occurrences.occurrence, name="occurrence"),
    path("series/<int:series_id>/<str:recurrence_id>/present/", occurrences.present, name="present"),
    path("series/<int:series_id>/<str:recurrence_id>/minutes/", occurrences.minutes, name="minutes"),
    path("series/<int:series_id>/<str:recurrence_id>/minutes.md", occurrences.minutes_markdown, name="minutes_md"),
    # Editing one occurrence in the calendar: move, cancel, edit with a scope (this / following / all).
    path("series/<int:series_id>/<str:recurrence_id>/edit/", series.occurrence_edit, name="occurrence_edit"),
    # Every POST of the review session (freeze, start, close, agenda items, notes, decisions, attendance, actions).
    path("series/<int:series_id>/<str:recurrence_id>/do/<slug:action>/", occurrences.act, name="act"),
    path("feed/", feeds.feed_manage, name="feed"),
    path("feed/<str:token>.ics", feeds.feed_ics, name="feed_ics"),
]
