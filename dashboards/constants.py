"""Fixed choices of the dashboards: time ranges, auto-refresh, the key metrics and the analytics' thresholds."""

from datetime import timedelta

# The preset buttons (Grafana's quick ranges). Any "<n>m|h|d|w" is accepted in the URL, the presets are shortcuts.
RANGE_PRESETS: tuple[str, ...] = ("1h", "6h", "24h", "7d", "30d", "90d")
DEFAULT_RANGE = "24h"
# The longest range a page may ask for, relative or absolute: beyond retention there is nothing to show anyway.
MAX_RANGE = timedelta(days=400)
MIN_RANGE = timedelta(minutes=5)

# Auto-refresh intervals (URL value → seconds); "off" is the default.
REFRESH_CHOICES: dict[str, int] = {"off": 0, "10s": 10, "1m": 60, "5m": 300}

GROUP_LEVELS: tuple[str, ...] = ("domain", "division", "agent")
AGGREGATIONS: tuple[str, ...] = ("avg", "sum", "min", "max", "last")

# The metrics the overview and the registry pages summarise, in display order.
KEY_METRICS: tuple[str, ...] = (
    "throughput_tasks_per_min",
    "error_rate_pct",
    "task_latency_p95_ms",
    "tool_call_success_pct",
)

# URL parameters a page may repeat, and those it may carry at most once.
LIST_PARAMETERS: tuple[str, ...] = ("metric", "domain", "division", "agent", "tag")
MAX_LIST_VALUES = 20
