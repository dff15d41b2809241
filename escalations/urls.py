"""Escalation pages under /escalations/ (namespace `escalations`)."""

from django.urls import path

from escalations.views import actions, analytics, queue, sla, summary, tickets

app_name = "escalations"
urlpatterns = [
    path("", queue.queue, name="queue"),
    path("raise/", queue.raise_form, name="raise"),
    path("sla/", sla.sla_policy, name="sla"),
    path("<int:number>/", tickets.detail, name="detail"),
    # One POST per action (acknowledge, start, …, comment, decide, sign-off, follow-up, reassign, claim).
    path("<int:number>/<slug:action>/", actions.act, name="act"),
]
urlpatterns += [
    path("analytics/", analytics.analytics, name="analytics"),
    path("summary/overview/", summary.overview_panel, name="overview_panel"),
    path("annotations/", summary.annotations, name="annotations"),
]
