"""The metric catalogue under /catalogue/ (namespace `catalogue`): every metric, the discovered ones awaiting review
first, and a page per metric where a lead names and describes it.

Everyone with a role reads the list; editing is the catalogue API's policy (novaops.policies.is_lead), and saving
through metrics.services.catalogue.metric_update marks a discovered metric reviewed.
"""

from django.contrib import messages
from django.core.paginator import InvalidPage, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from agents.forms import bootstrap_form
from metrics.forms import CatalogueFilterForm, MetricEditForm
from metrics.models import Metric
from metrics.selectors import metric_catalogue, metric_get
from metrics.services.catalogue import metric_update
from novaops import policies
from novaops.decorators import lead_required, person_required

METRICS_PER_PAGE = 50
EDIT_REFUSED = "Only Tier 1 leads can change the metric catalogue."


@require_safe
@person_required
def catalogue_list(request: HttpRequest) -> HttpResponse:
    """A filter that names nothing (an unknown division, an overlong search) is a 400 with the error beside its
    field and no list, never a wider one."""
    form = bootstrap_form(CatalogueFilterForm(request.GET))
    valid = form.is_valid()
    page = None
    if valid:
        data = form.cleaned_data
        division = data["division"]
        metrics = metric_catalogue(
            search=data["q"], needs_review=data["review"], division_id=division.pk if division else None
        )
        try:
            page = Paginator(metrics, METRICS_PER_PAGE).page(request.GET.get("page") or 1)
        except InvalidPage as exc:
            raise Http404(f"No such page: {exc}") from exc
    context = {
        "form": form,
        "page": page,
        "filtered": valid and any(form.cleaned_data.values()),
        "awaiting_review": metric_catalogue(needs_review=True).count(),
        "may_edit": policies.is_lead(request.user),
        "section": "catalogue",
    }
    return render(request, "metrics/catalogue_list.html", context, status=200 if valid else 400)


@require_http_methods(["GET", "HEAD", "POST"])
@lead_required(EDIT_REFUSED)
def metric_edit(request: HttpRequest, key: str) -> HttpResponse:
    metric = _metric_or_404(key)
    # The form writes what it accepts onto the metric as it validates: the page names the metric by its key, which
    # it never changes, and remembers whether it was under review before.
    was_under_review = metric.needs_review
    form = bootstrap_form(MetricEditForm(request.POST if request.method == "POST" else None, instance=metric))
    if request.method == "POST" and form.is_valid():
        metric_update(metric=metric, **form.cleaned_data)
        messages.success(request, f"Saved {metric.key}{' and marked it reviewed' if was_under_review else ''}.")
        # A lead working through the review queue goes back to what is left of it.
        return redirect(reverse("catalogue:list") + ("?review=1" if was_under_review else ""))
    context = {"metric": metric, "form": form, "section": "catalogue"}
    return render(request, "metrics/catalogue_edit.html", context, status=400 if form.is_bound else 200)


def _metric_or_404(key: str) -> Metric:
    if "\x00" in key:  # no key holds NUL, and PostgreSQL refuses to compare one
        raise Http404("No such metric.")
    try:
        return metric_get(key=key)
    except Metric.DoesNotExist:
        raise Http404("No such metric.") from None
