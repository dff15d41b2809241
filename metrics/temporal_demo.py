"""The Temporal demo of `NOVAOPS_TEMPORAL_DEMO=true make run`: a few workflow types on two task queues, started
all the time by a real worker on the local dev server, so that workflow metrics arrive like a real cluster's.

Outcomes are drawn at random: most complete after a short while, some fail, some outlive their execution timeout.
The workflows run unsandboxed (the sandbox would re-import this module, and with it Django).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

# task queue → workflow types started on it
QUEUES = {"demo-runtime": ["ProvisionAgent", "RollOutVersion"], "demo-workflows": ["RunPlaybook"]}


@workflow.defn(dynamic=True)
class DemoWorkflow:
    """One definition for every demo type (dynamic): it sleeps, then completes or fails as it was told."""

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> str:
        seconds, outcome = workflow.payload_converter().from_payload(args[0].payload, list)
        await asyncio.sleep(seconds)
        if outcome == "fail":
            raise ApplicationError("demo failure", non_retryable=True)
        return "done"


async def demo_run(address: str, *, namespace: str = "default", every: float = 2.0) -> None:
    """Start a workflow every `every` seconds on a random demo queue, for ever, with one worker per queue."""
    client = await _connect(address, namespace)
    workers = [
        Worker(client, task_queue=queue, workflows=[DemoWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
        for queue in QUEUES
    ]
    async with asyncio.TaskGroup() as group:
        for worker in workers:
            group.create_task(worker.run())
        group.create_task(_starter(client, every))


async def _connect(address: str, namespace: str, timeout: float = 120.0) -> Client:
    """The dev server starts alongside us: retry until it answers."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await Client.connect(address, namespace=namespace)
        except RuntimeError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1)


async def _starter(client: Client, every: float) -> None:
    while True:
        queue = random.choice(list(QUEUES))
        workflow_type = random.choice(QUEUES[queue])
        roll = random.random()
        # About 80 % complete, 12 % fail, 8 % run past their timeout.
        outcome = "fail" if roll < 0.12 else "complete"
        seconds = 90 if roll > 0.92 else random.uniform(1, 20)
        await client.start_workflow(
            workflow_type,
            [seconds, outcome],
            id=f"demo-{uuid.uuid4()}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=60),
        )
        await asyncio.sleep(every)
