"""The overview at `/` and everything under `/dashboards/` (the root URLconf includes this at the site root)."""

from django.urls import path

from dashboards.views import analysis, figures, overview, pages

app_name = "dashboards"
urlpatterns = [
    path("", overview.overview, name="overview"),
    path("dashboards/figure/", figures.figure, name="figure"),
    path("dashboards/explore/", analysis.explore, name="explore"),
    path("dashboards/compare/", analysis.compare, name="compare"),
    path("dashboards/divisions/<slug:slug>/", pages.division_dashboard, name="division"),
    # <str:…>, not a handle converter: a malformed handle still needs sign-in first, then answers 404.
    path("dashboards/agents/<str:handle>/", pages.agent_dashboard, name="agent"),
]
