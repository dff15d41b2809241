import time
from datetime import timedelta

import orjson
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max
from django.utils import timezone

from agents.models import Agent, Division
from metrics.demo import division_points
from metrics.models import Point
from metrics.services.batches import batch_accept
from metrics.services.catalogue import metric_catalogue_seed
from metrics.services.landing import batch_process
from metrics.sources.native import MAX_POINTS


class Command(BaseCommand):
    help = "Backfill DEMO metrics for every division through the ingestion pipeline (idempotent, resumes)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=14)
        parser.add_argument("--force", action="store_true", help="Run with DEBUG off (not for production).")

    def handle(self, *args, days: int, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to write DEMO metrics with DEBUG off; pass --force for a demo install.")
        metric_catalogue_seed()
        now = timezone.now()
        # Resume from the newest point already there, so a second run only fills the gap since the last one.
        latest = Point.objects.filter(ts__gte=now - timedelta(days=days)).aggregate(Max("ts"))["ts__max"]
        start = max(now - timedelta(days=days), latest or now - timedelta(days=days))
        began, total = time.monotonic(), 0
        for division in Division.objects.order_by("pk"):
            handles = list(
                Agent.objects.filter(division=division, lifecycle_state=Agent.Lifecycle.ACTIVE)
                .order_by("handle")
                .values_list("handle", flat=True)
            )
            chunk: list[dict] = []
            for point in division_points(division_slug=division.slug, handles=handles, start=start, end=now):
                chunk.append(point)
                if len(chunk) == MAX_POINTS:
                    total += self._ingest(division, chunk)
                    chunk = []
            if chunk:
                total += self._ingest(division, chunk)
        elapsed = time.monotonic() - began
        rate = f" ({total / elapsed:,.0f} points/s)" if total and elapsed else ""
        self.stdout.write(f"DEMO metrics: {total:,} points since {start:%Y-%m-%d %H:%M} UTC in {elapsed:.1f} s{rate}.")

    def _ingest(self, division: Division, points: list[dict]) -> int:
        batch = batch_accept(division=division, token=None, body=orjson.dumps({"points": points}), enqueue=False).batch
        batch_process(batch_id=batch.pk)  # right here, so the data is there when the web server starts
        return len(points)
