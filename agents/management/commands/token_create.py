from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from agents.models import Division
from agents.services.tokens import division_token_create
from novaops.errors import Conflict


def _expiry(value: str | None) -> datetime | None:
    """--expires takes an RFC 3339 time or a duration like 30d / 12h."""
    if not value:
        return None
    if value[-1] in "dh" and value[:-1].isdigit():
        amount = int(value[:-1])
        return timezone.now() + (timedelta(days=amount) if value[-1] == "d" else timedelta(hours=amount))
    moment = parse_datetime(value)
    if moment is None or moment.tzinfo is None:
        raise CommandError(f"--expires {value!r}: give an RFC 3339 time with offset, or a duration like 30d or 12h.")
    return moment


class Command(BaseCommand):
    help = "Mint an API token for a division. The token is printed once, as the last word of the output."

    def add_arguments(self, parser):
        parser.add_argument("--division", required=True, help="division slug, e.g. novacore-runtime")
        parser.add_argument("--name", required=True, help="a label, e.g. the collector's host")
        parser.add_argument("--expires", help="RFC 3339 time or a duration such as 90d or 12h")

    def handle(self, *args, division: str, name: str, expires: str | None = None, **options):
        found = Division.objects.filter(slug=division).first()
        if found is None:
            slugs = ", ".join(Division.objects.order_by("slug").values_list("slug", flat=True))
            raise CommandError(f"No division {division!r}. Known: {slugs}.")
        taken = f"{found.name} already has a token named {name!r}; pick another name."
        if found.tokens.filter(name=name).exists():
            raise CommandError(taken)
        try:
            token, secret = division_token_create(division=found, name=name, expires_at=_expiry(expires))
        except Conflict:
            raise CommandError(taken) from None  # the same name, created since the check above
        expiry = f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else ""
        self.stdout.write(f"Token {token.prefix} for {found.name} ({name}{expiry}). Shown once: {secret}")
