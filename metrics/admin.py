from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from metrics.forms import TemporalConnectionForm
from metrics.models import IngestBatch, Metric, Series, TemporalConnection, TemporalMapping
from metrics.services.temporal import temporal_connection_save


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "unit", "kind", "better"]
    list_filter = ["kind", "better"]
    search_fields = ["key", "name", "description"]

    def get_readonly_fields(self, request: HttpRequest, obj: Metric | None = None) -> list[str]:
        # Series keys and every client refer to the key: fixed once the metric exists.
        return ["key"] if obj is not None else []


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and shows rows that only the ingest pipeline writes: no add, change or delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Series)
class SeriesAdmin(ReadOnlyAdmin):
    """Series are created by ingest only: their key encodes metric, agent, division and tags, so editing any of
    them here would split one series from the data still posted for it, and deleting one would orphan its points
    and rollups (they refer to it without a foreign key, see migration 0002). The admin lists and shows them."""

    list_display = ["id", "metric", "agent", "division", "tags", "created_at"]
    list_filter = ["metric", "division"]
    list_select_related = ["metric", "agent", "division"]
    search_fields = ["key", "agent__handle", "agent__callsign", "metric__key"]
    fields = ["metric", "agent", "division", "tags", "key", "created_at"]
    readonly_fields = fields
    show_full_result_count = False  # no COUNT(*) over a large table on every page


@admin.register(IngestBatch)
class IngestBatchAdmin(ReadOnlyAdmin):
    """Read-only: batches move through the pipeline by compare-and-swap, never by hand. The payload is hidden."""

    list_display = ["id", "division", "status", "source", "point_count", "points_written", "created_at", "finished_at"]
    list_filter = ["status", "source", "division"]
    list_select_related = ["division"]
    date_hierarchy = "created_at"
    search_fields = ["idempotency_key", "error"]
    show_full_result_count = False
    fields = [
        "division",
        "token",
        "status",
        "source",
        "point_count",
        "series_count",
        "points_written",
        "idempotency_key",
        "body_sha256",
        "ts_min",
        "ts_max",
        "error",
        "attempts",
        "created_at",
        "enqueued_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        # The payload can be megabytes a batch; never load it for the admin.
        return super().get_queryset(request).defer("payload")


class TemporalMappingInline(admin.TabularInline):
    model = TemporalMapping
    extra = 0
    fields = ["task_queue", "workflow_type", "division", "agent"]


@admin.register(TemporalConnection)
class TemporalConnectionAdmin(admin.ModelAdmin):
    """The secrets are write-only here as on the pages: the form (metrics.forms) never fills them from the row, the
    list and the change page show only whether one is stored."""

    form = TemporalConnectionForm
    list_display = ["name", "address", "namespace", "enabled", "credentials", "last_polled_until", "last_error_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "address", "namespace"]
    fields = [
        "name",
        "address",
        "namespace",
        "enabled",
        "tls_client_cert",
        "tls_client_key",
        "api_key",
        "clear_secrets",
        "credentials",
        "last_polled_until",
        "last_error",
        "last_error_at",
    ]
    readonly_fields = ["credentials", "last_polled_until", "last_error", "last_error_at"]
    inlines = [TemporalMappingInline]

    def get_fields(self, request: HttpRequest, obj: TemporalConnection | None = None) -> list[str]:
        return self.fields if obj is not None else [f for f in self.fields if f != "clear_secrets"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        # Only the plain fields are model fields of the form: the admin would otherwise fill the secret fields from
        # the row (showing them) and write the empty ones back over the stored secrets.
        kwargs["fields"] = TemporalConnectionForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="Credentials")
    def credentials(self, obj: TemporalConnection) -> str:
        stored = [
            label
            for name, label in (("tls_client_cert", "TLS certificate"), ("api_key", "API key"))
            if getattr(obj, name)
        ]
        return ", ".join(stored) + " stored" if stored else "none"

    def save_model(self, request: HttpRequest, obj: TemporalConnection, form: Any, change: bool) -> None:
        temporal_connection_save(connection=obj, **form.cleaned_data)
