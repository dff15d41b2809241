"""The native JSON source: `{"points": [{"metric", "agent"?, "ts", "value", "tags"?}, …]}` → validated columns.

Validation is one tight loop over plain dicts (no serializer per point): about a microsecond or two per field.
Every problem is collected with its index and field, so a client learns everything wrong in one round trip.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from agents.constants import is_handle
from novaops.errors import InvalidInput

MAX_POINTS = 50_000
# Values are stored as double precision; a JSON integer beyond this cannot become one (float() would overflow).
FLOAT_MAX = sys.float_info.max
MAX_TAGS = 16
MAX_TAG_KEY = 64
MAX_TAG_VALUE = 200
TAG_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


class PayloadError(InvalidInput):
    """The body as a whole is unusable (not JSON, wrong shape): 400, with `errors` when a field is at fault."""

    def __init__(self, message: str, errors: list[dict] | None = None) -> None:
        super().__init__(message, errors=errors)


@dataclass
class ParsedPoints:
    """Column-wise points; `errors` lists item-level problems as {"index", "field", "message"}."""

    metrics: list[str] = field(default_factory=list)
    handles: list[str | None] = field(default_factory=list)
    ts_us: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # canonical JSON, "" for none
    positions: list[int] = field(default_factory=list)  # index of each kept point in the request
    errors: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ts_us)


def _load(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson refuses NaN/Infinity outright; the standard parser can tell us where they are.
        try:
            return json.loads(body, parse_constant=lambda name: _NonFinite(name))
        except (ValueError, UnicodeDecodeError):
            raise PayloadError(f"Malformed JSON: {exc}") from None


class _NonFinite:
    def __init__(self, name: str) -> None:
        self.name = name


def _parse_ts(raw: object, now_us: int, min_us: int, max_us: int) -> tuple[int | None, str | None]:
    if type(raw) is str:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return None, f"Not an RFC 3339 timestamp: {raw[:40]!r}."
        if moment.tzinfo is None:
            return None, f"Timestamp {raw[:40]!r} has no UTC offset; add Z or +hh:mm."
        ts_us = round(moment.timestamp() * 1_000_000)
    elif type(raw) is int or type(raw) is float:
        if not math.isfinite(raw):
            return None, "Epoch seconds must be finite."
        scaled = raw * 1_000_000
        if type(scaled) is float and not math.isfinite(scaled):  # 1e308 seconds: finite, but not in microseconds
            return None, "Epoch seconds out of range."
        ts_us = round(scaled)
    elif raw is None:
        return None, "Required."
    else:
        return None, "Expected an RFC 3339 string or epoch seconds."
    if ts_us > max_us:
        return None, "More than 5 minutes in the future."
    if ts_us < min_us:
        return None, "Older than the retention period."
    return ts_us, None


def parse_native(body: bytes, *, known_metrics: set[str], now_us: int, min_us: int, max_us: int) -> ParsedPoints:
    """Parse and validate a native JSON body. Raises PayloadError for body-level problems.

    This is ingestion's hot loop: a valid point is checked inline, with no function call of its own; a point with
    any problem goes to _point_errors, which lists every problem it has.
    """
    points = _points_list(_load(body))
    parsed = ParsedPoints()
    add_metric, add_handle = parsed.metrics.append, parsed.handles.append
    add_ts, add_value, add_tags = parsed.ts_us.append, parsed.values.append, parsed.tags.append
    add_position, add_errors = parsed.positions.append, parsed.errors.extend
    # Points of one series repeat their timestamps' strings and their tags: each distinct one is checked once.
    ts_cache: dict[object, tuple[int | None, str | None]] = {}
    tags_cache: dict[tuple, tuple[str, str | None]] = {(): ("", None)}
    good_handles: set[str | None] = {None}
    for index, point in enumerate(points):
        if type(point) is not dict:
            add_errors(_point_errors(index, point, known_metrics, now_us, min_us, max_us))
            continue
        metric, handle, raw_ts = point.get("metric"), point.get("agent"), point.get("ts")
        value, tags = point.get("value"), point.get("tags")
        try:
            ts_us, ts_error = ts_cache[raw_ts]
        except (KeyError, TypeError):
            ts_us, ts_error = _parse_ts(raw_ts, now_us, min_us, max_us)
            if type(raw_ts) is str:
                ts_cache[raw_ts] = (ts_us, ts_error)
        canonical, tags_error = "", None
        if tags is not None:
            try:
                key = tuple(tags.items())
                canonical, tags_error = tags_cache[key]
            except KeyError:
                canonical, tags_error = tags_cache.setdefault(key, tags_canonical(tags))
            except (AttributeError, TypeError):  # not an object, or an unhashable value (certainly not a string)
                canonical, tags_error = tags_canonical(tags)
        kind = type(value)
        if (
            len(point) <= 5
            and _FIELDS.issuperset(point)
            and type(metric) is str
            and metric in known_metrics
            and (
                handle is None
                or handle.__class__ is str
                and (handle in good_handles or _handle_good(handle, good_handles))
            )
            and ts_error is None
            and (kind is float and math.isfinite(value) or kind is int and -FLOAT_MAX <= value <= FLOAT_MAX)
            and tags_error is None
        ):
            add_metric(metric)
            add_handle(handle)
            add_ts(ts_us)
            add_value(value if kind is float else float(value))
            add_tags(canonical)
            add_position(index)
        else:
            add_errors(_point_errors(index, point, known_metrics, now_us, min_us, max_us))
    return parsed


_FIELDS = frozenset({"metric", "agent", "ts", "value", "tags"})


def _handle_good(handle: str, good_handles: set[str | None]) -> bool:
    """Whether a handle not met before in this body has the right form; a good one joins good_handles."""
    if is_handle(handle):
        good_handles.add(handle)
        return True
    return False


def _points_list(document: object) -> list:
    """The "points" list of a parsed body; PayloadError when the body as a whole has the wrong shape."""
    if not isinstance(document, dict):
        raise PayloadError('Expected a JSON object with a "points" list.')
    unknown_keys = set(document) - {"points"}
    if unknown_keys:
        raise PayloadError(f"Unknown top-level field(s): {', '.join(sorted(unknown_keys))}.")
    points = document.get("points")
    if not isinstance(points, list):
        raise PayloadError(
            '"points" must be a list.', [{"index": None, "field": "points", "message": "Required list."}]
        )
    if not points:
        raise PayloadError('"points" is empty.', [{"index": None, "field": "points", "message": "At least one."}])
    if len(points) > MAX_POINTS:
        raise PayloadError(
            f"{len(points)} points; at most {MAX_POINTS} per batch.",
            [{"index": None, "field": "points", "message": f"At most {MAX_POINTS} points per batch."}],
        )
    return points


def _point_errors(
    index: int, point: object, known_metrics: set[str], now_us: int, min_us: int, max_us: int
) -> list[dict]:
    """Every problem of one invalid point, field by field, as {"index", "field", "message"}."""
    if type(point) is not dict:
        return [{"index": index, "field": "", "message": "Expected an object."}]
    errors = []
    extra = sorted(set(point) - _FIELDS)
    if extra:
        errors.append({"index": index, "field": extra[0], "message": f"Unknown field(s): {', '.join(extra)}."})
    metric = point.get("metric")
    if type(metric) is not str:
        errors.append({"index": index, "field": "metric", "message": "Required string."})
    elif metric not in known_metrics:
        errors.append({"index": index, "field": "metric", "message": f"Unknown metric {metric[:64]!r}."})
    handle = point.get("agent")
    if handle is not None and (handle.__class__ is not str or not is_handle(handle)):
        errors.append({"index": index, "field": "agent", "message": "Expected a handle like ta_00008."})
    ts_error = _parse_ts(point.get("ts"), now_us, min_us, max_us)[1]
    if ts_error:
        errors.append({"index": index, "field": "ts", "message": ts_error})
    value = point.get("value")
    kind = type(value)
    if kind is _NonFinite or kind is float and not math.isfinite(value):
        errors.append({"index": index, "field": "value", "message": "NaN and Infinity are not allowed."})
    elif kind is int and not -FLOAT_MAX <= value <= FLOAT_MAX:
        errors.append({"index": index, "field": "value", "message": "Too large for a double-precision number."})
    elif kind is not float and kind is not int:
        message = "Required number." if value is None else "Expected a number."
        errors.append({"index": index, "field": "value", "message": message})
    tags = point.get("tags")
    tags_error = None if tags is None else tags_canonical(tags)[1]
    if tags_error:
        errors.append({"index": index, "field": "tags", "message": tags_error})
    return errors


def tags_canonical(tags: object) -> tuple[str, str | None]:
    """(sorted-key JSON, None) for valid tags, ("", problem) otherwise."""
    problem = _tags_problem(tags)
    if problem:
        return "", problem
    return orjson.dumps(tags, option=orjson.OPT_SORT_KEYS).decode(), None


def _tags_problem(tags: object) -> str | None:
    if type(tags) is not dict:
        return "Expected an object of strings."
    if len(tags) > MAX_TAGS:
        return f"{len(tags)} tags; at most {MAX_TAGS}."
    for key, value in tags.items():
        if len(key) > MAX_TAG_KEY or not TAG_KEY_RE.match(key):
            return f"Tag key {key[:80]!r} must be 1–{MAX_TAG_KEY} letters, digits, _ . -, starting with a letter or _."
        if type(value) is not str:
            return f"Tag {key!r} must be a string."
        if len(value) > MAX_TAG_VALUE:
            return f"Tag {key!r} is longer than {MAX_TAG_VALUE} characters."
        if "\x00" in value:  # jsonb cannot hold it: the series insert would fail
            return f"Tag {key!r} contains a NUL character."
    return None
