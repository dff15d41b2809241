"""Escalation pages under /escalations/ (namespace `escalations`)."""

from django.urls import path

from escalations.views import analytics, summary, tickets

app_name = "escalations"
urlpatterns = [
    path("", tickets.queue, name="queue"),
    path("raise/", tickets.raise_form, name="raise"),
    path("sla/", tickets.sla_policy, name="sla"),
    path("<int:number>/", tickets.detail, name="detail"),
    # One POST per action (acknowledge, start, …, comment, decide, sign-off, follow-up, reassign, edit, claim).
    path("<int:number>/<slug:action>/", tickets.act, name="act"),
]
urlpatterns += [
    path("analytics/", analytics.analytics, name="analytics"),
    path("summary/overview/", summary.overview_panel, name="overview_panel"),
    path("annotations/", summary.annotations, name="annotations"),
]
