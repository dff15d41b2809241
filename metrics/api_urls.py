"""Metrics API routes, included under /api/v1/metrics/ with the namespace api:metrics (no trailing slashes)."""

from django.urls import path

from metrics import api

urlpatterns = [
    path("batches", api.BatchCreateApi.as_view(), name="batch-create"),
    path("batches/<int:batch_id>", api.BatchDetailApi.as_view(), name="batch-detail"),
    # GET lists, POST creates; GET reads one, PATCH changes it.
    path("catalogue", api.MetricsRoute.of(api.MetricListApi, api.MetricCreateApi), name="catalogue-list"),
    path(
        "catalogue/<str:key>",
        api.MetricsRoute.of(api.MetricDetailApi, api.MetricUpdateApi),
        name="catalogue-detail",
    ),
    path("series", api.SeriesAggregateApi.as_view(), name="series"),
]
