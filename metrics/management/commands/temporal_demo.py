import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agents.models import Division
from metrics.models import TemporalConnection, TemporalMapping
from metrics.temporal_demo import QUEUES, demo_run

CONNECTION_NAME = "Local dev server (demo)"


class Command(BaseCommand):
    help = "Map the demo task queues to two divisions and run a worker that starts demo workflows for ever."

    def add_arguments(self, parser):
        parser.add_argument("--address", default="127.0.0.1:7233", help="the dev server's frontend host:port")
        parser.add_argument("--every", type=float, default=2.0, help="seconds between two workflows started")
        parser.add_argument("--force", action="store_true", help="Run with DEBUG off (not for production).")

    def handle(self, *args, address: str, every: float, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to run the Temporal demo with DEBUG off; pass --force for a demo install.")
        divisions = list(Division.objects.order_by("pk")[:2])
        if len(divisions) < 2:
            raise CommandError("The demo needs two divisions: run seed_demo first.")
        connection, _ = TemporalConnection.objects.update_or_create(
            name=CONNECTION_NAME, defaults={"address": address, "namespace": "default", "enabled": True}
        )
        for queue, division in zip(QUEUES, divisions, strict=True):
            TemporalMapping.objects.get_or_create(
                connection=connection, task_queue=queue, workflow_type="", defaults={"division": division}
            )
        names = ", ".join(f"{queue} → {division.name}" for queue, division in zip(QUEUES, divisions, strict=True))
        self.stdout.write(f"Temporal demo on {address}: {names}")
        asyncio.run(demo_run(address, every=every))
