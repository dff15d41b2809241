"""The state of a dashboard view, which lives entirely in the URL: a link reproduces the view exactly.

`state_parse` reads a query string into a ViewState (or raises InvalidInput naming every bad parameter);
`ViewState.query` writes one back, with changes, for the links a page offers (presets, shift, zoom out, drill-down).
Parameters:

  range=24h             a range ending now: <n>m, h, d or w (the presets are buttons, not limits)
  from=…&to=…           an absolute range instead (ISO 8601; without an offset, in `tz`)
  tz=Europe/Berlin      the zone times are shown in (default: the viewer's, see dashboards.views)
  metric=…              one or more catalogue keys
  group=agent           domain, division, agent, or tag:<key> (one line per value of that tag, "(none)" without it)
  agg=avg               avg, sum, min, max or last
  domain=… division=… agent=… tag=key:value   filters, each repeatable
  view=share            share of total (counter metrics) rather than values
  refresh=1m            auto-refresh: off, 10s, 1m, 5m
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.http import QueryDict
from django.utils import timezone

from dashboards.constants import (
    AGGREGATIONS,
    DEFAULT_RANGE,
    GROUP_LEVELS,
    LIST_PARAMETERS,
    MAX_LIST_VALUES,
    MAX_RANGE,
    MIN_RANGE,
    REFRESH_CHOICES,
)
from novaops.errors import InvalidInput

RANGE_RE = re.compile(r"^([1-9][0-9]{0,4})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TAG_KEY = r"[a-zA-Z_][a-zA-Z0-9_.-]{0,62}"
TAG_RE = re.compile(rf"^({TAG_KEY}):(.{{1,200}})$")
TAG_GROUP_RE = re.compile(rf"^tag:{TAG_KEY}$")
# The parameters a view's state is made of; anything else in the query string is refused (a typo is not ignored).
STATE_PARAMETERS = frozenset({"range", "from", "to", "tz", "group", "agg", "view", "refresh", *LIST_PARAMETERS})


@dataclass(frozen=True)
class ViewState:
    start: datetime
    end: datetime
    tz: zoneinfo.ZoneInfo
    range: str | None = DEFAULT_RANGE  # None for an absolute range
    tz_explicit: bool = False  # tz came from the URL (links keep it) rather than the viewer's default
    metrics: tuple[str, ...] = ()
    group: str = "agent"
    agg: str = "avg"
    domains: tuple[str, ...] = ()
    divisions: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    view: str = "values"
    refresh: str = "off"
    defaults: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def pairs(self) -> list[tuple[str, str]]:
        """The state as query parameters, leaving out what equals the page's defaults."""
        out: list[tuple[str, str]] = []
        if self.range is not None:
            out.append(("range", self.range))
        else:
            out += [("from", _iso(self.start, self.tz)), ("to", _iso(self.end, self.tz))]
        if self.tz_explicit or self.range is None:
            out.append(("tz", self.tz.key))
        out += [("metric", key) for key in self.metrics]
        for name in ("group", "agg", "view", "refresh"):
            value = getattr(self, name)
            if value != self.defaults.get(name, _FIELD_DEFAULTS[name]):
                out.append((name, value))
        out += [("domain", slug) for slug in self.domains]
        out += [("division", slug) for slug in self.divisions]
        out += [("agent", handle) for handle in self.agents]
        out += [("tag", f"{key}:{value}") for key, value in self.tags]
        return [(name, value) for name, value in out if not (name == "range" and value == self.defaults.get("range"))]

    def query(self, **changes: object) -> str:
        """The query string of this state with `changes` applied (field names of ViewState)."""
        return urlencode((replace(self, **changes) if changes else self).pairs())

    # --- the range links every dashboard offers ---

    def with_range(self, preset: str) -> str:
        start, end = _relative(preset, timezone.now())
        return self.query(range=preset, start=start, end=end)

    def shifted(self, direction: int) -> str:
        """Back (-1) or forward (+1) by half the range, as an absolute range; forward never passes now."""
        step = self.length / 2 * direction
        end = min(self.end + step, timezone.now()) if direction > 0 else self.end + step
        return self.query(range=None, start=end - self.length, end=end)

    def zoomed_out(self) -> str:
        """Twice the range around the same middle (Grafana's zoom out), never past now."""
        end = min(self.end + self.length / 2, timezone.now())
        start = max(end - 2 * self.length, end - MAX_RANGE)
        if self.range is not None:
            return self.query(range=_duration_label(2 * self.length), start=start, end=end)
        return self.query(range=None, start=start, end=end)


VIEWS = ("values", "share")
_FIELD_DEFAULTS = {"group": "agent", "agg": "avg", "view": "values", "refresh": "off"}


def _iso(moment: datetime, tz: zoneinfo.ZoneInfo) -> str:
    return moment.astimezone(tz).replace(tzinfo=None).isoformat(timespec="seconds")


def _duration_label(length: timedelta) -> str:
    seconds = int(length.total_seconds())
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0 and unit != "w":
            return f"{seconds // size}{unit}"
    return f"{max(seconds // 60, 1)}m"


def range_length(value: str) -> timedelta | None:
    """The length a relative range such as "24h" or "2w" names, or None when it names none."""
    match = RANGE_RE.match(value.strip())
    return timedelta(**{_UNITS[match[2]]: int(match[1])}) if match else None


def _relative(value: str, now: datetime) -> tuple[datetime, datetime]:
    length = range_length(value)
    if length is None:
        raise ValueError(value)
    return now - length, now


def _zone(value: str) -> zoneinfo.ZoneInfo | None:
    if not value or len(value) > 64 or ".." in value:
        return None
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def zone_or_none(value: str | None) -> zoneinfo.ZoneInfo | None:
    """The IANA zone named `value`, or None when it is not one (a cookie or a preference may hold anything)."""
    return _zone(value or "")


def _moment(value: str, tz: zoneinfo.ZoneInfo) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


class _Errors:
    """Collects one message per bad parameter, so the answer names them all at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def raise_any(self) -> None:
        if self.items:
            summary = "; ".join(f"{item['field']}: {item['message'].rstrip('.')}" for item in self.items)
            raise InvalidInput(f"This view cannot be shown: {summary}.", errors=self.items)


def state_parse(
    query: QueryDict,
    *,
    tz: zoneinfo.ZoneInfo,
    defaults: dict[str, str] | None = None,
    allowed: frozenset[str] = STATE_PARAMETERS,
    now: datetime | None = None,
) -> ViewState:
    """The ViewState in `query`; `tz` is the viewer's zone when the URL names none; `defaults` are the page's own
    (its range, grouping, aggregation). Raises InvalidInput naming every bad or unknown parameter."""
    defaults = defaults or {}
    errors = _Errors()
    for name in sorted(set(query) - allowed):
        errors.add(name, "is not a parameter of this page.")
    single = {name: query.getlist(name) for name in query if name not in LIST_PARAMETERS}
    for name, values in single.items():
        if len(values) > 1:
            errors.add(name, "may be given once.")
    get = lambda name: (query.get(name) or "").strip()  # noqa: E731

    zone = tz
    tz_explicit = bool(get("tz"))
    if tz_explicit:
        zone = _zone(get("tz")) or tz
        if _zone(get("tz")) is None:
            errors.add("tz", f"{get('tz')[:64]!r} is not an IANA time zone such as Europe/Berlin.")

    start, end, range_ = _range(get, zone, defaults.get("range", DEFAULT_RANGE), now or timezone.now(), errors)
    lists = {
        name: tuple(dict.fromkeys(v.strip() for v in query.getlist(name) if v.strip())) for name in LIST_PARAMETERS
    }
    for name, values in lists.items():
        if len(values) > MAX_LIST_VALUES:
            errors.add(name, f"at most {MAX_LIST_VALUES} values.")
    tags = _tags(lists["tag"], errors)
    picked = _choices(get, defaults, errors)
    errors.raise_any()
    return ViewState(
        start=start,
        end=end,
        tz=zone,
        range=range_,
        tz_explicit=tz_explicit,
        metrics=lists["metric"],
        domains=lists["domain"],
        divisions=lists["division"],
        agents=lists["agent"],
        tags=tags,
        defaults=defaults,
        **picked,
    )


def _tags(values: tuple[str, ...], errors: _Errors) -> tuple[tuple[str, str], ...]:
    tags = []
    for raw in values:
        match = TAG_RE.match(raw)
        if match:
            tags.append((match[1], match[2]))
        else:
            errors.add("tag", f"{raw[:80]!r} is not key:value.")
    return tuple(tags)


def _choices(get, defaults: dict[str, str], errors: _Errors) -> dict[str, str]:
    """group, agg, view and refresh: each from the URL, else the page's default, else the global one."""
    choices = {
        "group": GROUP_LEVELS,
        "agg": AGGREGATIONS,
        "view": ("values", "share"),
        "refresh": tuple(REFRESH_CHOICES),
    }
    picked = {}
    for name, options in choices.items():
        picked[name] = get(name) or defaults.get(name, _FIELD_DEFAULTS[name])
        if name == "group" and TAG_GROUP_RE.match(picked[name]):
            continue
        if picked[name] not in options:
            hint = " or tag:<key>" if name == "group" else ""
            errors.add(name, f"must be one of {', '.join(options)}{hint}.")
    return picked


def _distinct(values: list[str]) -> tuple[str, ...]:
    """The non-blank values, stripped, each once, in the order given."""
    return tuple(dict.fromkeys(value.strip() for value in values if value.strip()))


def _range(get, zone, default: str, now: datetime, errors: _Errors) -> tuple[datetime, datetime, str | None]:
    """(start, end, relative label or None) from range= or from=/to=."""
    raw_from, raw_to, raw_range = get("from"), get("to"), get("range")
    if raw_from or raw_to:
        if raw_range:
            errors.add("range", "give either range or from and to, not both.")
        start, end = _moment(raw_from, zone), _moment(raw_to, zone) if raw_to else now
        if start is None:
            errors.add("from", "must be a date and time such as 2026-12-01T09:00 (ISO 8601).")
        if end is None:
            errors.add("to", "must be a date and time such as 2026-12-01T17:00 (ISO 8601).")
        if start is None or end is None:
            return now - timedelta(days=1), now, None
        if end - start < MIN_RANGE:
            errors.add("to", "must be at least 5 minutes after from.")
        elif end - start > MAX_RANGE:
            errors.add("from", f"the range may span at most {MAX_RANGE.days} days.")
        return start.astimezone(UTC), end.astimezone(UTC), None
    label = raw_range or default
    try:
        start, end = _relative(label, now)
    except ValueError:
        errors.add("range", "must be a duration such as 15m, 6h, 7d or 2w.")
        return now - timedelta(days=1), now, None
    if end - start > MAX_RANGE:
        errors.add("range", f"may span at most {MAX_RANGE.days} days.")
    elif end - start < MIN_RANGE:
        errors.add("range", "must be at least 5 minutes.")
    return start, end, label


def state_check_query(query: str) -> str:
    """`query` (a saved view's query string, a leading "?" allowed) if it parses as a view state, without the "?";
    InvalidInput naming every bad parameter otherwise. The zone does not matter here: only validity does."""
    query = query.strip().removeprefix("?")
    state_parse(QueryDict(query), tz=zoneinfo.ZoneInfo("UTC"))
    return query
