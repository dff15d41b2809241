"""Metrics API routes under /api/v1/metrics/, namespace api:metrics; each also answers with a trailing slash."""

from metrics import api
from novaops.routing import api_path

urlpatterns = [
    *api_path("batches", api.BatchCreateApi.as_view(), name="batch-create"),
    *api_path("batches/<int:batch_id>", api.BatchDetailApi.as_view(), name="batch-detail"),
    # GET lists, POST creates; GET reads one, PATCH changes it.
    *api_path("catalogue", api.MetricsRoute.of(api.MetricListApi, api.MetricCreateApi), name="catalogue-list"),
    *api_path(
        "catalogue/<str:key>", api.MetricsRoute.of(api.MetricDetailApi, api.MetricUpdateApi), name="catalogue-detail"
    ),
    *api_path("series", api.SeriesAggregateApi.as_view(), name="series"),
]
