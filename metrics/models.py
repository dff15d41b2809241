"""The metric catalogue, series, points (partitioned by day), rollups and durable ingest batches."""

from datetime import UTC, datetime

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from agents.models import Agent, Division, DivisionToken

METRIC_KEY_PATTERN = r"^[a-z][a-z0-9_]{1,62}$"


class MetricKind(models.TextChoices):
    GAUGE = "gauge", "Gauge"
    COUNTER = "counter", "Counter"


class MetricDirection(models.TextChoices):
    HIGHER = "higher", "Higher is better"
    LOWER = "lower", "Lower is better"
    NEUTRAL = "neutral", "Neither"


class Metric(models.Model):
    """A catalogue entry: what a metric key means, its unit, and which direction is good."""

    Kind = MetricKind
    Direction = MetricDirection

    key = models.CharField(
        max_length=63,
        unique=True,
        validators=[RegexValidator(METRIC_KEY_PATTERN, "Lower-case letters, digits and _, starting with a letter.")],
    )
    name = models.CharField(max_length=120)
    unit = models.CharField(max_length=30, blank=True)
    kind = models.CharField(max_length=10, choices=MetricKind.choices, default=MetricKind.GAUGE)
    better = models.CharField(max_length=10, choices=MetricDirection.choices, default=MetricDirection.NEUTRAL)
    description = models.TextField(blank=True)
    # Ingest registers a key it meets in a protocol (OTLP, remote write, Pushgateway) as a discovered metric: the
    # source it came from, and a flag leads clear by naming and describing it (metrics.services.catalogue).
    discovered_from = models.CharField(max_length=20, blank=True)
    needs_review = models.BooleanField(default=False)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(condition=Q(key__regex=METRIC_KEY_PATTERN), name="metric_key_format"),
            models.CheckConstraint(condition=Q(kind__in=MetricKind.values), name="metric_kind_valid"),
            models.CheckConstraint(condition=Q(better__in=MetricDirection.values), name="metric_better_valid"),
        ]

    def __str__(self) -> str:
        return self.key


class Series(models.Model):
    """One metric for one agent (or a whole division when agent is null) with one set of tags.

    `key` is the canonical identity computed at ingest ("metric_id|agent_id|division_id|sorted tags JSON");
    its unique index makes the series upsert a single INSERT … ON CONFLICT and the join from staging a hash join.
    """

    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="series")
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.PROTECT, related_name="series")
    division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="series")
    tags = models.JSONField(default=dict, blank=True)
    key = models.TextField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "series"
        indexes = [
            models.Index(fields=["metric", "agent"], name="series_metric_agent_idx"),
            models.Index(fields=["metric", "division"], name="series_metric_division_idx"),
            # The caps on a division's metric names and series count through this index alone.
            models.Index(fields=["division", "metric"], name="series_division_metric_idx"),
        ]

    def __str__(self) -> str:
        return self.key


class Point(models.Model):
    """A raw observation. The table is range-partitioned by day (see migration 0002); never written by the ORM.

    Managed in Django's state only (the table itself comes from migration 0002's SQL, and AlterModelOptions never
    touches the database) so that test flushes truncate it like every other table.
    """

    pk = models.CompositePrimaryKey("series", "ts")
    series = models.ForeignKey(Series, on_delete=models.DO_NOTHING, db_constraint=False)
    ts = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        db_table = "metrics_point"

    def __str__(self) -> str:
        return f"{self.series_id}@{self.ts:%Y-%m-%dT%H:%M:%S}={self.value}"


# Rollup buckets are aligned on this origin (date_bin's third argument), so the buckets of each level nest in those
# of the next, and re-bucketing daily rollups into several days (metrics.selectors) keeps them whole.
ROLLUP_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
ROLLUP_ORIGIN_SQL = f"timestamptz '{ROLLUP_ORIGIN:%Y-%m-%d %H:%M:%S}+00'"


class RollupResolution(models.IntegerChoices):
    """The rollup levels, finest first: each bucket width in seconds, labelled with the same width as a PostgreSQL
    interval (the stride the ingest worker buckets with)."""

    FIVE_MINUTES = 300, "5 minutes"
    HOUR = 3600, "1 hour"
    DAY = 86400, "1 day"

    @property
    def sql_interval(self) -> str:
        return self.label


class Rollup(models.Model):
    """count/sum/min/max/last of a series over one bucket at one resolution; recomputed for touched buckets."""

    Resolution = RollupResolution

    pk = models.CompositePrimaryKey("series", "resolution", "bucket")
    series = models.ForeignKey(Series, on_delete=models.CASCADE, db_constraint=False)
    resolution = models.IntegerField(choices=RollupResolution.choices)
    bucket = models.DateTimeField()
    count = models.BigIntegerField()
    sum = models.FloatField()
    min = models.FloatField()
    max = models.FloatField()
    last = models.FloatField()
    last_ts = models.DateTimeField()

    class Meta:
        db_table = "metrics_rollup"

    def __str__(self) -> str:
        return f"{self.series_id}/{self.resolution}s@{self.bucket:%Y-%m-%dT%H:%M}"


class BatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class IngestBatch(models.Model):
    """A validated batch of points, committed before the API answers 202 (the outbox of the ingest pipeline).

    `payload` holds the points as a binary COPY stream of (series_id, ts, value) (see metrics.services.payload); it
    is cleared once the batch is done. The status only moves forward, through compare-and-swap updates in the task.
    """

    Status = BatchStatus

    division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="ingest_batches")
    token = models.ForeignKey(
        DivisionToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="ingest_batches"
    )
    status = models.CharField(max_length=12, choices=BatchStatus.choices, default=BatchStatus.QUEUED)
    source = models.CharField(max_length=20, default="json")
    point_count = models.PositiveIntegerField()
    series_count = models.PositiveIntegerField(default=0)
    points_written = models.PositiveIntegerField(default=0)
    # NULL, not "": the partial unique constraint below must ignore batches sent without a key.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    body_sha256 = models.CharField(max_length=64)
    payload = models.BinaryField(null=True, editable=False)
    ts_min = models.DateTimeField(null=True)
    ts_max = models.DateTimeField(null=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    enqueued_at = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "ingest batches"
        constraints = [
            models.UniqueConstraint(
                fields=["division", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="batch_idempotency_key_unique",
            ),
            models.CheckConstraint(condition=Q(status__in=BatchStatus.values), name="batch_status_valid"),
        ]
        indexes = [
            models.Index(fields=["division", "created_at"], name="batch_division_created_idx"),
            models.Index(fields=["status", "created_at"], name="batch_pending_idx", condition=~Q(status="done")),
            # Protocol clients send no Idempotency-Key: a body's digest finds its earlier copy (services.intake).
            models.Index(fields=["division", "body_sha256"], name="batch_division_digest_idx"),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.status})"


class CumulativeCursor(models.Model):
    """The last running total a protocol sent for a counter series (an OTLP cumulative sum, a Prometheus counter).

    NovaOps stores counters as increments (dashboards add them up per bucket), so each new total is stored as its
    difference from this one; a total below it, or a new start time, is a restart, counted from zero.
    """

    series = models.OneToOneField(Series, primary_key=True, on_delete=models.CASCADE, related_name="cursor")
    ts = models.DateTimeField(null=True)  # null until the counter's first total
    value = models.FloatField()
    start = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.series_id}@{self.ts}={self.value}"


class PushGroup(models.Model):
    """A Pushgateway group of a division: a job and its other grouping labels (the agent's among them).

    Each push to it stores its samples as points at the push time; the group remembers which series it holds
    (PushGroupSeries), so that a PUT ends those the push no longer has and a DELETE ends them all.
    """

    division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="push_groups")
    job = models.CharField(max_length=200)
    labels = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["division", "job", "labels"], name="push_group_unique"),
            models.CheckConstraint(condition=~Q(job=""), name="push_group_job_named"),
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.labels}"


class PushGroupSeries(models.Model):
    """A series while a push group holds it: from the push that brought it until the push or DELETE that ended it.

    Ending keeps the series and its points (the history stays on the dashboards); pushed again, the series joins
    the group again as a new row. `family` is the metric family it came from, what a POST replaces.
    """

    group = models.ForeignKey(PushGroup, on_delete=models.CASCADE, related_name="members")
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="push_memberships")
    family = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "push group series"
        constraints = [
            models.UniqueConstraint(
                fields=["group", "series"], condition=Q(ended_at__isnull=True), name="push_member_held_once"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="push_member_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}:{self.series_id} from {self.started_at:%Y-%m-%dT%H:%M:%S}"


class TemporalConnection(models.Model):
    """A Temporal cluster (one namespace of it) whose workflows the beat job counts as metrics.

    The TLS client key and the API key are secrets: stored for the poller, never rendered back (the forms take them
    write-only, the admin and the pages show only whether one is set, __str__ and errors leave them out).
    `last_polled_until` is the end of the last interval counted: the next poll starts there, so an outage is
    caught up and no interval is counted twice.
    """

    name = models.CharField(max_length=100, unique=True)
    address = models.CharField(max_length=255, help_text="host:port of the frontend, e.g. temporal.internal:7233.")
    namespace = models.CharField(max_length=255, default="default")
    tls_client_cert = models.TextField(blank=True, help_text="PEM client certificate for mTLS (optional).")
    tls_client_key = models.TextField(blank=True, help_text="PEM private key of that certificate (optional).")
    api_key = models.CharField(max_length=500, blank=True, help_text="Temporal Cloud API key (optional).")
    enabled = models.BooleanField(default=True)
    last_polled_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    SECRET_FIELDS = ("tls_client_cert", "tls_client_key", "api_key")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.address}/{self.namespace})"

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls_client_cert or self.api_key)


class TemporalMapping(models.Model):
    """Workflows of one task queue or one workflow type (or both: that type on that queue) counted for a division,
    and for one of its agents when set."""

    connection = models.ForeignKey(TemporalConnection, on_delete=models.CASCADE, related_name="mappings")
    task_queue = models.CharField(max_length=255, blank=True)
    workflow_type = models.CharField(max_length=255, blank=True)
    division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="temporal_mappings")
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="temporal_mappings")

    class Meta:
        ordering = ["task_queue", "workflow_type"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(task_queue="", workflow_type=""), name="temporal_mapping_queue_or_type"
            ),
            models.UniqueConstraint(
                fields=["connection", "task_queue", "workflow_type"], name="temporal_mapping_unique"
            ),
        ]

    def __str__(self) -> str:
        what = " / ".join(part for part in (self.task_queue, self.workflow_type) if part)
        return f"{what} → {self.division}"
