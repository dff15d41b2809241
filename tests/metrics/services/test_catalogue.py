"""metrics.services.catalogue: the default entries are seeded from migration 0003's frozen rows."""

from metrics.models import Metric
from metrics.services.catalogue import default_metrics, metric_catalogue_seed


def test_the_seed_adds_missing_default_metrics_and_leaves_edited_ones_alone(db):
    Metric.objects.filter(key="uptime_pct").delete()
    Metric.objects.filter(key="latency_p95_ms").update(name="Edited")

    assert metric_catalogue_seed() == 1
    assert metric_catalogue_seed() == 0
    assert set(Metric.objects.values_list("key", flat=True)) == {key for key, *_ in default_metrics()}
    assert Metric.objects.get(key="latency_p95_ms").name == "Edited"
    assert Metric.objects.get(key="uptime_pct").name == "Uptime"
