from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agents.demo import DEMO_PASSWORD, demo_organisation_seed


class Command(BaseCommand):
    help = "Create or refresh the DEMO organisation (domains, divisions, 186 agents, demo users). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even with DEBUG off (not for production).")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to seed DEMO data with DEBUG off. This creates demo users with a public password; "
                "pass --force if this really is a demo installation."
            )
        result = demo_organisation_seed()
        self.stdout.write(
            f"Seeded DEMO data: {result.domains} domains, {result.divisions} divisions, {result.agents} agents. "
            f"Demo users {', '.join(result.users)} (password {DEMO_PASSWORD!r})."
        )
