"""How division clients sign in to the API: `Authorization: Bearer nvo_<prefix>_<secret>` (DRF authentication),
and the principal that stands for them in request.user."""

import base64
import binascii
import hmac
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from agents.constants import TOKEN_PREFIX
from agents.models import Division, DivisionToken
from agents.selectors import division_token_by_prefix
from agents.services.tokens import division_token_record_use


@dataclass(frozen=True)
class DivisionPrincipal:
    """request.user for a division client: authenticated, but no login user and no person.

    `is_division_client` is how novaops.policies tells it from a login user.
    """

    division: Division
    token: DivisionToken
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_superuser: bool = False
    is_staff: bool = False
    is_division_client: bool = True

    @property
    def pk(self) -> str:
        return f"division:{self.division.pk}"


# A client posting every second must not cost a token lookup per request: each process keeps a token it has read
# for this long. It is also the bound on how long a revoked token (or a division moved or renamed) can still be
# taken by a process that read it before: at most TOKEN_CACHE_TTL after the revocation. Expiry is exact (checked on
# every request), so is the secret (checked against the kept hash every time); unknown prefixes are never kept, so
# the cache holds at most the real tokens.
TOKEN_CACHE_TTL = timedelta(seconds=5)
_verified: dict[str, tuple[DivisionToken, datetime]] = {}
_verified_lock = threading.Lock()


def _token_by_prefix(prefix: str, now: datetime) -> DivisionToken | None:
    with _verified_lock:
        kept = _verified.get(prefix)
    if kept is not None and now - TOKEN_CACHE_TTL <= kept[1] <= now:
        return kept[0]
    token = division_token_by_prefix(prefix=prefix)
    with _verified_lock:
        if token is None:
            _verified.pop(prefix, None)
        else:
            _verified[prefix] = (token, now)
    return token


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
        return self.authenticate_credential(credential.strip())

    def authenticate_credential(self, credential: str) -> tuple[DivisionPrincipal, DivisionToken]:
        parts = credential.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
            raise exceptions.AuthenticationFailed("Malformed token: expected 'Bearer nvo_<prefix>_<secret>'.")
        now = timezone.now()
        token = _token_by_prefix(parts[1], now)
        # Compare even when the prefix is unknown, so timing does not tell which prefixes exist.
        expected = token.secret_sha256 if token else "0" * 64
        if not hmac.compare_digest(expected, DivisionToken.hash_secret(parts[2])) or token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at:
            raise exceptions.PermissionDenied(f"Token {token.prefix} was revoked.")
        if token.expires_at and token.expires_at <= now:
            raise exceptions.PermissionDenied(f"Token {token.prefix} expired at {token.expires_at.isoformat()}.")
        division_token_record_use(token=token, now=now)
        return DivisionPrincipal(division=token.division, token=token), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class DivisionTokenBasicAuthentication(DivisionTokenAuthentication):
    """The token as the password of HTTP Basic auth (any user name), for clients that can only send Basic auth, such
    as prometheus_client's basic_auth_handler. Same answers as the Bearer form."""

    def authenticate(self, request: Request) -> tuple[DivisionPrincipal, DivisionToken] | None:
        scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            _, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from None
        return self.authenticate_credential(password)

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="api"'
