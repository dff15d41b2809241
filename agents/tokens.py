"""Division API tokens: minting, checking and revoking, and the DRF authentication that uses them."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from agents.models import Division, DivisionToken

TOKEN_PREFIX = "nvo"
# last_used_at is refreshed at most this often, so a busy client does not cost a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def division_token_create(
    *, division: Division, name: str, expires_at: datetime | None = None, created_by=None
) -> tuple[DivisionToken, str]:
    """Mint a token; returns it with the plain secret, which is never stored and cannot be shown again."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = DivisionToken(
        division=division,
        name=name,
        prefix=prefix,
        secret_sha256=_sha256(secret),
        expires_at=expires_at,
        created_by=created_by,
    )
    token.full_clean()
    token.save()
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


def division_token_revoke(*, token: DivisionToken) -> DivisionToken:
    """Revoke now; revoking twice keeps the first revocation time (compare-and-swap on revoked_at)."""
    DivisionToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


@dataclass(frozen=True)
class DivisionPrincipal:
    """request.user for a division client: authenticated, but no login user and no person."""

    division: Division
    token: DivisionToken
    is_division_client = True
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_superuser: bool = False
    is_staff: bool = False

    @property
    def pk(self) -> str:
        return f"division:{self.division.pk}"


class DivisionTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer nvo_<prefix>_<secret>`. Unknown or malformed → 401; revoked or expired → 403."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[DivisionPrincipal, DivisionToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        parts = credential.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
            raise exceptions.AuthenticationFailed("Malformed token: expected 'Bearer nvo_<prefix>_<secret>'.")
        token = DivisionToken.objects.select_related("division__domain").filter(prefix=parts[1]).first()
        # Compare even when the prefix is unknown, so timing does not tell which prefixes exist.
        expected = token.secret_sha256 if token else "0" * 64
        if not hmac.compare_digest(expected, _sha256(parts[2])) or token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if token.revoked_at:
            raise exceptions.PermissionDenied(f"Token {token.prefix} was revoked.")
        if token.expires_at and token.expires_at <= now:
            raise exceptions.PermissionDenied(f"Token {token.prefix} expired at {token.expires_at.isoformat()}.")
        if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
            DivisionToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return DivisionPrincipal(division=token.division, token=token), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
