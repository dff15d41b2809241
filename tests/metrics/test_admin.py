"""metrics.admin: the catalogue is editable, series and batches are for looking at only."""

import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from metrics.models import IngestBatch, Metric, Series
from metrics.services.batches import batch_accept


@pytest.fixture
def batch(division, agent) -> IngestBatch:
    point = {"metric": "uptime_pct", "agent": agent.handle, "ts": datetime.now(UTC).isoformat(), "value": 99.5}
    # Left queued (no on-commit callbacks run): its payload is still stored.
    return batch_accept(division=division, token=None, body=json.dumps({"points": [point]}).encode()).batch


def test_changelists_load(client_as, batch):
    admin_client = client_as("superuser")
    for model in ("metric", "series", "ingestbatch"):
        response = admin_client.get(reverse(f"admin:metrics_{model}_changelist"))
        assert response.status_code == 200, model


def test_a_metric_is_edited_but_its_key_is_fixed(client_as):
    admin_client = client_as("superuser")
    metric = Metric.objects.get(key="uptime_pct")
    url = reverse("admin:metrics_metric_change", args=[metric.pk])
    data = {"key": "renamed", "name": "Availability", "unit": "%", "kind": "gauge", "better": "higher"}
    response = admin_client.post(url, {**data, "description": ""})

    assert response.status_code == 302
    metric.refresh_from_db()
    assert (metric.key, metric.name) == ("uptime_pct", "Availability")


def test_series_and_batches_are_read_only_and_the_payload_is_hidden(client_as, batch):
    admin_client = client_as("superuser")
    series = Series.objects.get()
    batch_page = admin_client.get(reverse("admin:metrics_ingestbatch_change", args=[batch.pk]))

    assert batch_page.status_code == 200
    assert b"payload" not in batch_page.content.lower() and b"99.5" not in batch_page.content
    assert admin_client.get(reverse("admin:metrics_series_change", args=[series.pk])).status_code == 200
    assert admin_client.get(reverse("admin:metrics_series_add")).status_code == 403
    assert admin_client.get(reverse("admin:metrics_ingestbatch_add")).status_code == 403
    assert admin_client.post(reverse("admin:metrics_ingestbatch_delete", args=[batch.pk])).status_code == 403
    assert admin_client.post(reverse("admin:metrics_series_delete", args=[series.pk])).status_code == 403
    assert IngestBatch.objects.filter(pk=batch.pk).exists() and Series.objects.filter(pk=series.pk).exists()
