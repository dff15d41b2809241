from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from escalations.demo import STORIES, escalations_demo_seed


class Command(BaseCommand):
    help = "Create the DEMO escalations (after seed_demo): each kind in several states. Idempotent (by title)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even with DEBUG off (not for production).")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to seed DEMO escalations with DEBUG off; pass --force if this really is a demo installation."
            )
        added = escalations_demo_seed()
        self.stdout.write(f"DEMO escalations: {len(added)} added, {len(STORIES) - len(added)} already there.")
