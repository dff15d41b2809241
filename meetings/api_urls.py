"""Meetings API routes under /api/v1/meetings (namespace api:meetings); each path also answers with a trailing
slash.

The include is `path("meetings", …)` (the list has no trailing slash), so the other routes hang under one
`path("/", include(…))`: Django warns about a route that begins with a slash (urls.W002) unless it is an include's.
"""

from django.urls import include, path

from meetings.apis import MeetingRoute
from meetings.apis.occurrences import ActionItemCreateApi, AgendaApi, MinutesApi, OccurrenceListApi
from meetings.apis.series import SeriesCreateApi, SeriesDetailApi, SeriesListApi
from novaops.routing import api_path

OCCURRENCE = "occurrences/<int:series_id>/<str:recurrence_id>"
# GET lists, POST creates.
series_list = MeetingRoute.of(SeriesListApi, SeriesCreateApi)

routes = [
    # /api/v1/meetings/: the list's trailing-slash form.
    path("", series_list),
    *api_path("<int:series_id>", SeriesDetailApi.as_view(), name="series-detail"),
    *api_path("occurrences", OccurrenceListApi.as_view(), name="occurrence-list"),
    *api_path(f"{OCCURRENCE}/agenda", AgendaApi.as_view(), name="occurrence-agenda"),
    *api_path(f"{OCCURRENCE}/minutes", MinutesApi.as_view(), name="occurrence-minutes"),
    *api_path(f"{OCCURRENCE}/action-items", ActionItemCreateApi.as_view(), name="occurrence-action-items"),
]

urlpatterns = [
    path("", series_list, name="series-list"),
    path("/", include(routes)),
]
