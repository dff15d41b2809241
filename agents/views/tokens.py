"""The division API tokens page: Tier 1 leads (and superusers) list every division's tokens, create one and revoke one.

The secret of a new token is rendered straight into the response to the create POST, marked no-store, and nowhere
else: a redirect would have to carry it through the session or the messages storage, which would persist it in a
cookie or in the database. Views stay thin: they parse a form, call division_token_create / division_token_revoke
(the only writes) or the selectors, and render; bad input is a form error with 400, an unknown token a 404.
"""

import re
import shlex
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from agents import selectors
from agents.forms import TokenCreateForm, TokenFilterForm, bootstrap_form
from agents.models import Division, DivisionToken
from agents.services.tokens import division_token_create, division_token_revoke
from novaops.decorators import lead_required
from novaops.errors import Conflict

NOT_A_LEAD_MESSAGE = (
    "API tokens are managed by the Tier 1 leads. Ask your lead for a token for your division's clients."
)
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")


def _token_or_404(token_id: int) -> DivisionToken:
    try:
        return selectors.division_token_get(token_id=token_id)
    except DivisionToken.DoesNotExist as exc:
        raise Http404(f"No token {token_id}.") from exc


def _curl_example(*, url: str, secret: str, agent: str | None) -> str:
    """A command that posts one point now, for the new token's division (the agent must belong to it)."""
    point = '{"metric":"latency_p95_ms",'
    point += f'"agent":"{agent}",' if agent else ""
    point += f'"ts":"{timezone.now():%Y-%m-%dT%H:%M:00Z}","value":41.5}}'
    return (
        f"curl -X POST {shlex.quote(url)} \\\n"
        f'  -H "Authorization: Bearer {secret}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{{\"points\":[{point}]}}'"
    )


def _render(
    request: HttpRequest,
    *,
    filter_form: TokenFilterForm,
    create_form: TokenCreateForm,
    division: Division | None = None,
    status: int = 200,
    **extra: object,
) -> HttpResponse:
    """The token page. An invalid filter lists no tokens (rather than a silently wider list)."""
    filter_valid = not filter_form.is_bound or filter_form.is_valid()
    context = {
        "filter_form": bootstrap_form(filter_form),
        "create_form": bootstrap_form(create_form),
        "division": division,
        "tokens": list(selectors.division_token_list(division=division)) if filter_valid else None,
        "section": "tokens",
        **extra,
    }
    return render(request, "agents/token_list.html", context, status=status)


@require_safe
@lead_required(NOT_A_LEAD_MESSAGE)
def token_list(request: HttpRequest) -> HttpResponse:
    """Every division's tokens, newest first within each division, filterable by division (?division=<slug>)."""
    divisions = list(selectors.division_choice_list())
    filter_form = TokenFilterForm(request.GET, divisions=divisions, auto_id="id_filter_%s")
    valid = filter_form.is_valid()
    division = filter_form.cleaned_data["division"] if valid else None
    create_form = TokenCreateForm(divisions=divisions, initial={"division": division.slug if division else ""})
    return _render(
        request, filter_form=filter_form, create_form=create_form, division=division, status=200 if valid else 400
    )


@require_http_methods(["GET", "HEAD", "POST"])
# no-store (never_cache sets it with no-cache and max-age=0): no browser cache, proxy or Back button keeps the secret.
@never_cache
@lead_required(NOT_A_LEAD_MESSAGE)
def token_create(request: HttpRequest) -> HttpResponse:
    """Create a token and show its secret once, in this response (201); a GET goes back to the list."""
    if request.method != "POST":
        return redirect("agents:token_list")
    divisions = list(selectors.division_choice_list())
    form = TokenCreateForm(request.POST, divisions=divisions)
    filter_form = TokenFilterForm(divisions=divisions, auto_id="id_filter_%s")
    if form.is_valid():
        data = form.cleaned_data
        try:
            token, secret = division_token_create(
                division=data["division"], name=data["name"], expires_at=data["expires_at"], created_by=request.user
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except Conflict as exc:  # a name the division already uses
            form.add_error("name", exc.message)
        else:
            agent = selectors.agent_list().filter(division=token.division).values_list("handle", flat=True).first()
            url = request.build_absolute_uri(reverse("api:metrics:batch-create"))
            return _render(
                request,
                filter_form=filter_form,
                create_form=TokenCreateForm(divisions=divisions, initial={"division": token.division.slug}),
                status=201,
                created=token,
                secret=secret,
                curl_example=_curl_example(url=url, secret=secret, agent=agent),
            )
    return _render(request, filter_form=filter_form, create_form=form, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@lead_required(NOT_A_LEAD_MESSAGE)
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """GET: the confirmation page (the list opens the same form in a dialog); POST: revoke, then back to the list.

    Revoking a revoked token changes nothing (division_token_revoke keeps the first time) and says so.
    """
    token = _token_or_404(token_id)
    if request.method != "POST":
        return render(request, "agents/token_revoke.html", {"token": token, "section": "tokens"})
    already = token.revoked_at is not None
    token = division_token_revoke(token=token)
    when = f"{token.revoked_at.day} {token.revoked_at:%b %Y, %H:%M} UTC"
    if already:
        messages.info(
            request, f"“{token.name}” ({token.division.name}) was already revoked on {when}; nothing changed."
        )
    else:
        messages.success(
            request, f"Revoked “{token.name}” ({token.division.name}): clients using nvo_{token.prefix}_… now get 403."
        )
    # Back to the list the lead was looking at (the filter travels in the form; only a slug-shaped value is kept).
    back = reverse("agents:token_list")
    division = request.POST.get("division", "")
    return redirect(f"{back}?{urlencode({'division': division})}" if _SLUG.fullmatch(division) else back)
