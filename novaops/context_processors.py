"""What the layout shows on every page: how far behind the primary a page's data is when it came from a replica."""

from typing import Any

from django.http import HttpRequest

# Below this the replica is as good as the primary for a dashboard refreshed every 30 s or more.
REPLICA_LAG_SHOWN_AFTER_SECONDS = 5


def replica_lag(request: HttpRequest) -> dict[str, Any]:
    """`replica_lag_seconds` (whole seconds) when this page read from a replica lagging more than a few seconds;
    set by novaops.decorators.reads_from_replica, so pages that read the primary never show it."""
    lag = getattr(request, "replica_lag", None)
    if lag is None or lag <= REPLICA_LAG_SHOWN_AFTER_SECONDS:
        return {}
    return {"replica_lag_seconds": round(lag)}
