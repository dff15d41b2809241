"""The Temporal source: workflow executions read from a cluster's visibility store, counted per fixed interval.

Reading is one visibility query per mapping and poll (every execution that was alive at some point of the window:
started before its end and still running or closed after its start), then the counting happens here, per
interval and workflow type. So a task-queue mapping is split by workflow type without a query per type, and
counting the same window again gives the same numbers (the poll's rerun overwrites, it never adds).

Nothing here touches the database: metrics.services.temporal turns the counts into points.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import TLSConfig

# The most executions one poll reads for one mapping. Past it the poll fails with a clear error rather than
# counting part of the window (an undercount would look like real data).
MAX_EXECUTIONS = 20_000
CONNECT_TIMEOUT = timedelta(seconds=10)
T = TypeVar("T")

# Metric keys (catalogue entries of migration 0006) per closing status.
CLOSED_KEYS = {
    WorkflowExecutionStatus.COMPLETED: "temporal_workflows_completed",
    WorkflowExecutionStatus.FAILED: "temporal_workflows_failed",
    WorkflowExecutionStatus.TIMED_OUT: "temporal_workflows_timed_out",
    WorkflowExecutionStatus.CANCELED: "temporal_workflows_cancelled",
}
STARTED_KEY = "temporal_workflows_started"
RUNNING_KEY = "temporal_workflows_running"
P50_KEY = "temporal_workflow_duration_p50_ms"
P95_KEY = "temporal_workflow_duration_p95_ms"
BACKLOG_KEY = "temporal_task_queue_backlog"


class TemporalSourceError(Exception):
    """The cluster could not be read as asked (unreachable, refused, too many executions)."""


@dataclass(frozen=True)
class Target:
    """Where and how to connect; the secrets travel only from the connection row to the SDK."""

    address: str
    namespace: str
    tls_client_cert: str = ""
    tls_client_key: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class Scope:
    """What one mapping selects: a task queue, a workflow type, or that type on that queue."""

    task_queue: str = ""
    workflow_type: str = ""


@dataclass(frozen=True)
class Execution:
    workflow_type: str
    status: WorkflowExecutionStatus
    start: datetime
    close: datetime | None


@dataclass
class ScopeReading:
    executions: list[Execution]
    backlog: int | None  # None when the scope has no task queue or the server does not report it


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def visibility_query(scope: Scope, *, start: datetime, end: datetime) -> str:
    """Executions of the scope alive at some point of [start, end): started before the end, and still running or
    closed at or after the start."""
    clauses = []
    if scope.task_queue:
        clauses.append(f"TaskQueue = {_literal(scope.task_queue)}")
    if scope.workflow_type:
        clauses.append(f"WorkflowType = {_literal(scope.workflow_type)}")
    clauses.append(f"StartTime < {_literal(_rfc3339(end))}")
    clauses.append(f"(ExecutionStatus = 'Running' OR CloseTime >= {_literal(_rfc3339(start))})")
    return " AND ".join(clauses)


async def _connect(target: Target) -> Client:
    tls: TLSConfig | bool = False
    if target.tls_client_cert:
        tls = TLSConfig(client_cert=target.tls_client_cert.encode(), client_private_key=target.tls_client_key.encode())
    elif target.api_key:
        tls = True  # Temporal Cloud's API keys only travel over TLS
    return await Client.connect(target.address, namespace=target.namespace, tls=tls, api_key=target.api_key or None)


async def _executions(client: Client, scope: Scope, *, start: datetime, end: datetime) -> list[Execution]:
    found: list[Execution] = []
    async for info in client.list_workflows(visibility_query(scope, start=start, end=end), page_size=1000):
        if len(found) >= MAX_EXECUTIONS:
            raise TemporalSourceError(
                f"More than {MAX_EXECUTIONS} workflow executions in one poll of "
                f"{scope.task_queue or scope.workflow_type}."
            )
        found.append(
            Execution(
                workflow_type=info.workflow_type,
                status=info.status or WorkflowExecutionStatus.RUNNING,
                start=info.start_time,
                close=info.close_time,
            )
        )
    return found


async def _backlog(client: Client, namespace: str, task_queue: str) -> int | None:
    """Tasks waiting on the queue (workflow and activity tasks), or None when the server reports no stats."""
    total, reported = 0, False
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        request = DescribeTaskQueueRequest(
            namespace=namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=kind, report_stats=True
        )
        response = await client.workflow_service.describe_task_queue(request)
        if response.HasField("stats"):
            reported = True
            total += response.stats.approximate_backlog_count
    return total if reported else None


async def _read(
    target: Target, scopes: Iterable[Scope], *, start: datetime, end: datetime
) -> dict[Scope, ScopeReading]:
    try:
        client = await asyncio.wait_for(_connect(target), CONNECT_TIMEOUT.total_seconds())
    except TimeoutError:
        raise TemporalSourceError(f"No answer from {target.address} within {CONNECT_TIMEOUT.seconds} s.") from None
    readings = {}
    for scope in scopes:
        executions = await _executions(client, scope, start=start, end=end)
        backlog = await _backlog(client, target.namespace, scope.task_queue) if scope.task_queue else None
        readings[scope] = ScopeReading(executions=executions, backlog=backlog)
    return readings


def temporal_read(
    target: Target, scopes: Iterable[Scope], *, start: datetime, end: datetime, timeout: timedelta
) -> dict[Scope, ScopeReading]:
    """Each scope's executions alive in [start, end) and its backlog, read within `timeout` in all.

    Every failure (connection refused, TLS, permission, time-out) comes out as TemporalSourceError with the SDK's
    message; the SDK's messages name the address, never the credentials."""
    try:
        return run_coroutine(
            lambda: asyncio.wait_for(_read(target, list(scopes), start=start, end=end), timeout.total_seconds())
        )
    except TemporalSourceError:
        raise
    except TimeoutError:
        raise TemporalSourceError(f"Reading {target.address} took over {timeout.seconds} s.") from None
    except Exception as exc:
        raise TemporalSourceError(f"{type(exc).__name__}: {exc}") from exc


def run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run make()'s coroutine to the end from synchronous code: in this thread, or in a thread of its own when this
    one already runs an event loop (asyncio.run refuses to nest; a test's Playwright keeps a loop running)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def interval_counts(
    executions: list[Execution], *, start: datetime, end: datetime, step: timedelta, types: Iterable[str] = ()
) -> dict[tuple[datetime, str], dict[str, float]]:
    """{(interval start, workflow type): {metric key: value}} for each interval of `step` in [start, end).

    Counts are zero where nothing happened (a rerun then also clears what an earlier run saw); durations are there
    only for intervals in which something closed. `types` are always reported (a workflow-type mapping), the others
    when some execution of theirs is in the window.
    """
    by_type: dict[str, list[Execution]] = {name: [] for name in types}
    for execution in executions:
        by_type.setdefault(execution.workflow_type, []).append(execution)
    counts: dict[tuple[datetime, str], dict[str, float]] = {}
    bucket = start
    while bucket < end:
        bucket_end = bucket + step
        for workflow_type, runs in by_type.items():
            counts[(bucket, workflow_type)] = _bucket(runs, start=bucket, end=bucket_end)
        bucket = bucket_end
    return counts


def _bucket(runs: list[Execution], *, start: datetime, end: datetime) -> dict[str, float]:
    values: dict[str, float] = {STARTED_KEY: 0, RUNNING_KEY: 0, **dict.fromkeys(CLOSED_KEYS.values(), 0)}
    durations_ms = []
    for run in runs:
        if start <= run.start < end:
            values[STARTED_KEY] += 1
        if run.start < end and (run.close is None or run.close >= end):
            values[RUNNING_KEY] += 1
        if run.close is not None and start <= run.close < end:
            key = CLOSED_KEYS.get(run.status)
            if key is not None:
                values[key] += 1
            durations_ms.append((run.close - run.start).total_seconds() * 1000)
    if durations_ms:
        p50, p95 = np.percentile(durations_ms, [50, 95])
        values[P50_KEY], values[P95_KEY] = round(float(p50), 3), round(float(p95), 3)
    return values
