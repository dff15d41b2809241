from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from metrics.apis import otlp, pushgateway, remote_write
from novaops import views
from novaops.routing import api_path

schema_view = SpectacularAPIView.as_view()
# The split view serves its init script as a file of its own (?script): Swagger UI runs under script-src 'self'.
docs_view = SpectacularSwaggerSplitView.as_view(url_name="api:schema")

api_v1 = [
    path("", include(("agents.api_urls", "agents"))),
    path("metrics/", include(("metrics.api_urls", "metrics"))),
    path("escalations", include(("escalations.api_urls", "escalations"))),
    path("meetings", include(("meetings.api_urls", "meetings"))),
    # Prometheus remote write 1.0, where Prometheus, Grafana Alloy and vmagent are pointed.
    *api_path("prom/write", remote_write.RemoteWriteApi.as_view(), name="prom-write"),
    # The schema and its Swagger UI keep their trailing slash as the canonical form; both forms answer.
    path("schema/", schema_view, name="schema"),
    path("schema", schema_view),
    path("docs/", docs_view, name="docs"),
    path("docs", docs_view),
    # Last: anything else under /api/v1/ is a JSON 404, also with DEBUG on (Django's debug 404 page is HTML).
    re_path(r"^.*$", views.api_not_found, name="not-found"),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include((api_v1, "api"))),
    # The protocol front doors at the paths their clients build: OTEL_EXPORTER_OTLP_ENDPOINT=http://<host>/otlp, and
    # the Pushgateway address http://<host>/pushgateway (prometheus_client appends /metrics/job/<job>/<label>/<value>).
    path("otlp/v1/metrics", otlp.OtlpMetricsApi.as_view(), name="otlp-metrics"),
    re_path(
        r"^pushgateway/metrics/(?P<grouping>job(?:@base64)?/.*)$",
        pushgateway.PushgatewayApi.as_view(),
        name="pushgateway",
    ),
    path("registry/", include("agents.urls")),
    path("fleet/", include("agents.fleet_urls")),
    path("escalations/", include("escalations.urls")),
    path("meetings/", include("meetings.urls")),
    path("temporal/", include("metrics.urls")),
    path("catalogue/", include("metrics.catalogue_urls")),
    # The registry lived at the root before the dashboards took it: old links and bookmarks still arrive.
    re_path(
        r"^(?P<rest>(?:domains|divisions|agents|tokens)/.*)$",
        RedirectView.as_view(url="/registry/%(rest)s", permanent=True, query_string=True),
    ),
    path("", include("dashboards.urls")),
]

handler400 = "novaops.views.bad_request"
handler403 = "novaops.views.permission_denied"
handler404 = "novaops.views.page_not_found"
handler500 = "novaops.views.server_error"
