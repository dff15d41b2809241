"""A viewer's own choices over the defaults: today, the time zone times are shown in."""

from __future__ import annotations

from typing import Any

from dashboards.models import ViewerPreference
from dashboards.state import zone_or_none
from novaops.errors import InvalidInput


def viewer_time_zone_set(*, user: Any, time_zone: str) -> ViewerPreference:
    """Show `user` times in `time_zone` (an IANA name), or in their browser's zone when blank."""
    time_zone = (time_zone or "").strip()
    if time_zone and zone_or_none(time_zone) is None:
        raise InvalidInput(
            f"{time_zone[:64]!r} is not an IANA time zone such as Europe/Berlin.",
            errors=[{"field": "time_zone", "message": "not an IANA time zone."}],
        )
    preference, _ = ViewerPreference.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
    return preference
