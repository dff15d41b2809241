"""Temporal pages under /temporal/ (namespace `temporal`)."""

from django.urls import path

from metrics.views import temporal

app_name = "temporal"
urlpatterns = [
    path("", temporal.connection_list, name="list"),
    path("new/", temporal.connection_form, name="create"),
    path("<int:pk>/", temporal.connection_detail, name="detail"),
    path("<int:pk>/edit/", temporal.connection_form, name="edit"),
    path("<int:pk>/mappings/", temporal.mapping_add, name="mapping_add"),
    path("<int:pk>/mappings/<int:mapping_pk>/remove/", temporal.mapping_remove, name="mapping_remove"),
]
