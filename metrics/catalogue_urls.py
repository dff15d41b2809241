"""Catalogue pages under /catalogue/ (namespace `catalogue`)."""

from django.urls import path

from metrics.views import catalogue

app_name = "catalogue"
urlpatterns = [
    path("", catalogue.catalogue_list, name="list"),
    # <str:…>: a malformed key still needs sign-in first, then answers 404.
    path("<str:key>/edit/", catalogue.metric_edit, name="edit"),
]
