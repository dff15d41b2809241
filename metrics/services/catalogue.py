"""Writes to the metric catalogue: create an entry, change its description fields, seed the default entries."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from metrics.models import Metric
from novaops.db import insert_or_conflict

EDITABLE_FIELDS = frozenset({"name", "unit", "kind", "better", "description"})


def metric_create(
    *,
    key: str,
    name: str,
    unit: str = "",
    kind: str = Metric.Kind.GAUGE,
    better: str = Metric.Direction.NEUTRAL,
    description: str = "",
) -> Metric:
    """Add a metric to the catalogue; the caller has checked that the user may edit it.

    A key already taken is a refused operation (ApplicationError, 409). The insert decides, not a lookup before
    it, so two clients creating the same key at once cannot both succeed: the unique index raises for the second.
    """
    metric = Metric(key=key, name=name, unit=unit, kind=kind, better=better, description=description)
    return insert_or_conflict(metric, unique_field="key", conflict=f"A metric with key {key} already exists.")


def metric_update(*, metric: Metric, **fields: Any) -> Metric:
    """Change a metric's name, unit, kind, direction or description. The key is its identity at ingest (series
    keys and every client refer to it), so it never changes. Saving a discovered metric marks it reviewed."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(metric, name, value)
    metric.full_clean(validate_unique=False, validate_constraints=False)
    if fields:
        metric.needs_review = False
        metric.save(update_fields=[*fields, "needs_review"])
    return metric


def default_metrics() -> tuple[tuple[str, str, str, str, str, str], ...]:
    """(key, name, unit, kind, better, description) of the catalogue every installation starts with: the rows
    migrations 0003 and 0006 (the Temporal poller's) seed, frozen there, so that there is one copy."""
    return (
        import_module("metrics.migrations.0003_default_catalogue").DEFAULT_METRICS
        + import_module("metrics.migrations.0006_temporal").TEMPORAL_METRICS
    )


def metric_catalogue_seed() -> int:
    """Create the default metrics that are missing (existing ones are left as their owners edited them)."""
    existing = set(Metric.objects.values_list("key", flat=True))
    missing = [
        Metric(key=key, name=name, unit=unit, kind=kind, better=better, description=description)
        for key, name, unit, kind, better, description in default_metrics()
        if key not in existing
    ]
    Metric.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)
