"""Metrics API routes under /api/v1/metrics/, namespace api:metrics; each also answers with a trailing slash."""

from metrics.apis import batches, catalogue, series
from novaops.routing import api_path

urlpatterns = [
    *api_path("batches", batches.BatchCreateApi.as_view(), name="batch-create"),
    *api_path("batches/<int:batch_id>", batches.BatchDetailApi.as_view(), name="batch-detail"),
    # GET lists, POST creates; GET reads one, PATCH changes it.
    *api_path(
        "catalogue",
        catalogue.MetricsRoute.of(catalogue.MetricListApi, catalogue.MetricCreateApi),
        name="catalogue-list",
    ),
    *api_path(
        "catalogue/<str:key>",
        catalogue.MetricsRoute.of(catalogue.MetricDetailApi, catalogue.MetricUpdateApi),
        name="catalogue-detail",
    ),
    *api_path("series", series.SeriesAggregateApi.as_view(), name="series"),
]
