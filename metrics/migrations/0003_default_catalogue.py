"""The metric catalogue every installation starts with; editable afterwards.

The rows are frozen here: a migration must seed what it seeded when it was written. Code that needs the default
rows (the demo backfill, the tests) reads them from this module through metrics.services.catalogue.default_metrics.
"""

from django.db import migrations

# key, name, unit, kind, better, description
DEFAULT_METRICS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("task_latency_p50_ms", "Task latency p50", "ms", "gauge", "lower", "Median time from task start to result."),
    ("task_latency_p95_ms", "Task latency p95", "ms", "gauge", "lower", "95th percentile task latency."),
    ("latency_p95_ms", "Response latency p95", "ms", "gauge", "lower", "95th percentile response latency."),
    ("throughput_tasks_per_min", "Throughput", "tasks/min", "gauge", "higher", "Tasks completed per minute."),
    ("error_rate_pct", "Error rate", "%", "gauge", "lower", "Share of tasks that ended in an error."),
    ("tool_call_success_pct", "Tool-call success", "%", "gauge", "higher", "Share of tool calls that succeeded."),
    ("queue_backlog", "Queue backlog", "tasks", "gauge", "lower", "Tasks waiting to be picked up."),
    ("workflow_completions", "Workflow completions", "workflows", "counter", "higher", "Workflows completed."),
    ("cost_per_task_usd", "Cost per task", "USD", "gauge", "lower", "Average compute and API cost per task."),
    ("uptime_pct", "Uptime", "%", "gauge", "higher", "Share of time the agent was available."),
    ("context_window_util_pct", "Context window use", "%", "gauge", "neutral", "Average context window in use."),
    ("handoff_count", "Handoffs", "handoffs", "counter", "neutral", "Tasks handed to another agent."),
)


def seed(apps, schema_editor):
    Metric = apps.get_model("metrics", "Metric")
    for key, name, unit, kind, better, description in DEFAULT_METRICS:
        Metric.objects.get_or_create(
            key=key, defaults={"name": name, "unit": unit, "kind": kind, "better": better, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [("metrics", "0002_points_and_rollups_tables")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
