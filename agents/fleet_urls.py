from django.urls import path

from agents.views import fleet

app_name = "fleet"
urlpatterns = [
    path("", fleet.fleet_overview, name="overview"),
    path("import/", fleet.fleet_import, name="import"),
    path("bulk/", fleet.fleet_bulk, name="bulk"),
    path("export.csv", fleet.fleet_export, name="export"),
]
