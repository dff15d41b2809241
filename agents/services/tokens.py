"""Division API token writes: minting, revoking, and noting when a token was last used."""

import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.constants import TOKEN_PREFIX
from agents.models import Division, DivisionToken
from novaops.errors import Conflict

# last_used_at is refreshed at most this often, so a busy client does not cost a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def division_token_create(
    *, division: Division, name: str, expires_at: datetime | None = None, created_by=None
) -> tuple[DivisionToken, str]:
    """Mint a token; returns it with the plain secret, which is never stored and cannot be shown again.

    A name the division already gives another token is a Conflict (409). The insert decides, not a lookup before
    it: two leads submitting the same name at once both pass validation, and the unique constraint
    (token_unique_name_in_division) refuses the second.
    """
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = DivisionToken(
        division=division,
        name=name,
        prefix=prefix,
        secret_sha256=DivisionToken.hash_secret(secret),
        expires_at=expires_at,
        created_by=created_by,
    )
    token.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            token.save(force_insert=True)
    except IntegrityError:
        if DivisionToken.objects.filter(division=division, name=name).exists():
            raise Conflict(f"{division.name} already has a token named “{name}”. Pick another name.") from None
        raise
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


def division_token_revoke(*, token: DivisionToken) -> DivisionToken:
    """Revoke now; revoking twice keeps the first revocation time (compare-and-swap on revoked_at)."""
    DivisionToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


def division_token_record_use(*, token: DivisionToken, now: datetime) -> None:
    """Note that a client used `token` at `now`: one UPDATE at most every LAST_USED_RESOLUTION."""
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        DivisionToken.objects.filter(pk=token.pk).update(last_used_at=now)
        # The instance may be kept by the authentication's cache and seen by the next request.
        token.last_used_at = now
