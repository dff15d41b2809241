from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from meetings.demo import CHARTER, meetings_demo_seed


class Command(BaseCommand):
    help = (
        "Create the DEMO meeting series (after seed_demo): the charter's weekly sync, monthly deep dive and quarterly "
        "review, and the last weekly syncs' minutes. Idempotent (by title)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even with DEBUG off (not for production).")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to seed DEMO meetings with DEBUG off; pass --force if this really is a demo installation."
            )
        added = meetings_demo_seed()
        self.stdout.write(f"DEMO meeting series: {len(added)} added, {len(CHARTER) - len(added)} already there.")
