"""Calendar feeds: the person's subscription page (/meetings/feed/), their secret feed (/meetings/feed/<token>.ics,
no sign-in: calendar apps cannot send one) and the plain download of one series (/meetings/series/<id>.ics)."""

import hashlib

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.text import slugify
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from icalendar import Calendar

from meetings import ics, selectors
from meetings.services.feeds import feed_create_or_rotate, feed_user
from novaops import policies
from novaops.decorators import person_required

# Calendar apps poll every few minutes to hours; a short private cache spares a rebuild on a quick refetch.
FEED_MAX_AGE = 5 * 60


@require_http_methods(["GET", "HEAD", "POST"])
# no-store: the page that shows the secret URL must not stay in a cache or behind the Back button.
@never_cache
@person_required
def feed_manage(request: HttpRequest) -> HttpResponse:
    """The person's feed: whether there is one, how to subscribe; a POST creates it or rotates its secret and shows
    the new URL, once. `?confirm=rotate` is the confirmation page for browsers without the dialog."""
    feed = selectors.calendar_feed_of(user=request.user)
    context = {"feed": feed, "confirm": request.GET.get("confirm") == "rotate" and feed is not None}
    if request.method == "POST":
        feed, token = feed_create_or_rotate(user=request.user)
        path = reverse("meetings:feed_ics", args=[token])
        https_url = request.build_absolute_uri(path)
        context.update(
            feed=feed,
            https_url=https_url,
            webcal_url="webcal://" + https_url.split("://", 1)[1],
            rotated=request.POST.get("rotate") == "1",
        )
    context["series_count"] = selectors.feed_series_list(user=request.user).count()
    context["user_is_lead"] = policies.is_lead(request.user)
    return render(request, "meetings/feed.html", context)


@require_GET
def feed_ics(request: HttpRequest, token: str) -> HttpResponse:
    """The person's meetings as an iCalendar feed; 404 for a token that is wrong or was rotated."""
    user = feed_user(token=token[:120])
    if user is None or not policies.has_role(user):
        raise Http404("No calendar feed at this address; it may have been replaced by a newer one.")
    series = selectors.feed_series_list(user=user)
    calendar = ics.calendar_build(
        name="NovaOps meetings",
        series=series,
        occurrences=selectors.stored_occurrence_list(series=series),
        base_url=_base_url(request),
    )
    return _calendar_response(request, calendar, disposition='inline; filename="novaops-meetings.ics"')


@require_GET
@person_required
def series_ics(request: HttpRequest, series_id: int) -> HttpResponse:
    """One series as an .ics file to import (a one-off copy; the feed is the subscription that follows changes)."""
    rows = selectors.series_list().filter(pk=series_id)
    series = rows.first()
    if series is None:
        raise Http404("No such meeting series.")
    calendar = ics.calendar_build(
        name=series.title,
        series=[series],
        occurrences=selectors.stored_occurrence_list(series=rows),
        base_url=_base_url(request),
    )
    filename = f"{slugify(series.title) or 'meeting'}.ics"
    return _calendar_response(request, calendar, disposition=f'attachment; filename="{filename}"')


def _calendar_response(request: HttpRequest, calendar: Calendar, *, disposition: str) -> HttpResponse:
    body = calendar.to_ical()
    # The feed is the same bytes while nothing changed (DTSTAMP comes from the data): a poll can get a 304.
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        body, content_type="text/calendar; charset=utf-8"
    )
    response["ETag"] = etag
    response["Content-Disposition"] = disposition
    # private: a feed is one person's (and its URL a secret); no shared cache may keep it.
    patch_cache_control(response, private=True, max_age=FEED_MAX_AGE)
    return response


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")
