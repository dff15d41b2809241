"""The overview at `/` and everything under `/dashboards/` (the root URLconf includes this at the site root)."""

from django.urls import path

from dashboards.views import analysis, figures, overview, pages, preferences, saved, summary

app_name = "dashboards"
urlpatterns = [
    path("", overview.overview, name="overview"),
    path("dashboards/figure/", figures.figure, name="figure"),
    path("dashboards/explore/", analysis.explore, name="explore"),
    path("dashboards/compare/", analysis.compare, name="compare"),
    path("dashboards/divisions/<slug:slug>/", pages.division_dashboard, name="division"),
    # <str:…>, not a handle converter: a malformed handle still needs sign-in first, then answers 404.
    path("dashboards/agents/<str:handle>/", pages.agent_dashboard, name="agent"),
    path("dashboards/views/", saved.saved_view_list, name="saved_list"),
    path("dashboards/views/new/", saved.saved_view_create_view, name="saved_create"),
    path("dashboards/views/<int:view_id>/", saved.saved_view_open, name="saved_open"),
    path("dashboards/views/<int:view_id>/rename/", saved.saved_view_rename_view, name="saved_rename"),
    path("dashboards/views/<int:view_id>/delete/", saved.saved_view_delete_view, name="saved_delete"),
    path("dashboards/preferences/", preferences.preferences, name="preferences"),
]
urlpatterns += [
    path("dashboards/summary/anomalies/", overview.anomalies, name="overview_anomalies"),
    path("dashboards/summary/divisions/<slug:slug>/", summary.division_summary, name="division_summary"),
    path("dashboards/summary/agents/<str:handle>/", summary.agent_summary, name="agent_summary"),
]
urlpatterns += [
    path("dashboards/summary/overview/cards/", overview.cards, name="overview_cards"),
    path("dashboards/summary/overview/movers/", overview.movers, name="overview_movers"),
    path("dashboards/summary/overview/stopped/", overview.stopped, name="overview_stopped"),
]
