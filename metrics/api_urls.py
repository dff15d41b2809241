from django.urls import path

from metrics import api

urlpatterns = [
    path("batches", api.BatchCreateApi.as_view(), name="batch-create"),
    path("batches/<int:batch_id>", api.BatchDetailApi.as_view(), name="batch-detail"),
]
