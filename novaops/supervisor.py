"""`make run`'s process supervisor: keeps a few children running, restarts one that exits, keeps the console readable.

A child that exits while it should be running is started again after a short backoff (1 s, doubling to 30 s; back to
1 s once it has run for a minute), with one line saying so. Only repeated quick failures (5 exits within 60 s) make
the supervisor give up: it stops every child and `run()` returns 1. `stop()` (Ctrl-C, SIGTERM) ends every child:
SIGTERM to it, then SIGKILL to its whole process group after a grace period.

Each child's output goes through a `LogFilter`: per-task and per-request INFO lines (Celery's task received /
succeeded, beat's sends, gunicorn's access log, the simulator's rounds) are counted and summarised once a minute,
everything else — warnings, errors, tracebacks, start-up banners — passes through. `NOVAOPS_LOG=full` shows it all.
In production each service runs under systemd instead (docs/deploy.md).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
# This many unexpected exits within the window: the child cannot run here, and restarting it only hides that.
GIVE_UP_AFTER = 5
GIVE_UP_WINDOW = 60.0
SUMMARY_EVERY = 60.0

# Routine lines, counted instead of shown: (pattern, what it counts). Never a WARNING or an ERROR line.
ROUTINE = (
    (re.compile(r" INFO celery\.app\.trace: Task \S+ succeeded in "), "tasks succeeded"),
    (re.compile(r" INFO celery\.worker\.strategy: Task \S+ received"), None),
    (re.compile(r" INFO celery\.beat: Scheduler: Sending due task "), "tasks sent"),
    (re.compile(r'"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) [^"]*" [1-4]\d\d '), "requests"),
    (re.compile(r"^round \d+: \d+/\d+ batches accepted"), "simulator rounds"),
)
FAILED_TASK = re.compile(r" ERROR celery\.app\.trace: Task \S+ raised ")


class LogFilter:
    """Decides, line by line, what of a child's output reaches the console; counts what it holds back."""

    def __init__(self, name: str, *, full: bool = False) -> None:
        self.name = name
        self.full = full
        self.counts: Counter[str] = Counter()

    def feed(self, line: str) -> str | None:
        """The line to show (prefixed with the child's name), or None when it is only counted."""
        if FAILED_TASK.search(line):
            self.counts["failed"] += 1
        if not self.full:
            for pattern, counted in ROUTINE:
                if pattern.search(line):
                    if counted:
                        self.counts[counted] += 1
                    return None
        return f"{self.name:>6} | {line.rstrip()}"

    def summary(self) -> str | None:
        """One line with what was counted since the last summary (and resets the counts); None when nothing was."""
        counts, self.counts = self.counts, Counter()
        if not counts:
            return None
        parts = []
        if "tasks succeeded" in counts or "failed" in counts:
            parts.append(f"{counts.pop('tasks succeeded', 0)} tasks succeeded, {counts.pop('failed', 0)} failed")
        parts += [f"{number} {what}" for what, number in counts.items()]
        return f"{self.name}: {', '.join(parts)} in the last minute"


@dataclass(frozen=True)
class Policy:
    """When to restart and when to give up (the defaults above; tests shorten them)."""

    backoff_start: float = BACKOFF_START
    backoff_max: float = BACKOFF_MAX
    give_up_after: int = GIVE_UP_AFTER
    give_up_window: float = GIVE_UP_WINDOW
    summary_every: float = SUMMARY_EVERY


@dataclass
class Child:
    """One supervised command and its restart bookkeeping."""

    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = BACKOFF_START
    exits: deque[float] = field(default_factory=deque)
    log: LogFilter | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Supervisor:
    """Starts `commands` ({name: argv}), each in its own process group, and keeps them running (see the module)."""

    def __init__(
        self,
        commands: Mapping[str, list[str]],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        out: IO[str] | None = None,
        full_logs: bool | None = None,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or Policy()
        self.children = [
            Child(name, list(command), backoff=self.policy.backoff_start) for name, command in commands.items()
        ]
        self.env = dict(env if env is not None else os.environ)
        self.cwd = cwd
        self.out = out or sys.stdout
        self.full_logs = self.env.get("NOVAOPS_LOG") == "full" if full_logs is None else full_logs
        self.clock = clock
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.failed: str | None = None
        self._summary_at = clock() + self.policy.summary_every

    # --- output -------------------------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        with self.lock:
            self.out.write(message + "\n")
            self.out.flush()

    def _pump(self, child: Child, process: subprocess.Popen) -> None:
        for raw in iter(process.stdout.readline, b""):
            shown = child.log.feed(raw.decode(errors="replace"))
            if shown is not None:
                self.say(shown)
        process.stdout.close()

    def _summarise(self) -> None:
        now = self.clock()
        if now < self._summary_at:
            return
        self._summary_at = now + self.policy.summary_every
        for child in self.children:
            line = child.log.summary() if child.log else None
            if line:
                self.say(line)

    # --- processes ----------------------------------------------------------------------------------------------

    def _spawn(self, child: Child) -> None:
        # Its own process group: Ctrl-C reaches only the supervisor, which stops the children in order.
        child.process = subprocess.Popen(
            child.command,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        child.started_at = self.clock()
        child.restart_at = None
        if child.log is None:
            child.log = LogFilter(child.name, full=self.full_logs)
        threading.Thread(target=self._pump, args=(child, child.process), daemon=True).start()

    def start(self) -> None:
        for child in self.children:
            self._spawn(child)

    def _on_exit(self, child: Child, returncode: int) -> None:
        now, policy = self.clock(), self.policy
        if now - child.started_at >= policy.give_up_window:
            child.backoff = policy.backoff_start  # it ran fine for a while: this is a fresh failure
        child.exits.append(now)
        while child.exits and now - child.exits[0] > policy.give_up_window:
            child.exits.popleft()
        if len(child.exits) >= policy.give_up_after:
            self.failed = (
                f"{child.name} {describe_exit(returncode)}; it failed {len(child.exits)} times within "
                f"{policy.give_up_window:g} s: giving up and stopping everything"
            )
            self.say(self.failed)
            return
        self.say(f"{child.name} {describe_exit(returncode)}; restarting in {child.backoff:g} s")
        child.restart_at = now + child.backoff
        child.backoff = min(child.backoff * 2, policy.backoff_max)

    def poll(self) -> bool:
        """One round: notice exits, restart what is due, print summaries. False once the supervisor has given up."""
        for child in self.children:
            if self.failed or self.stopping.is_set():
                break
            if child.restart_at is None and child.process is not None:
                returncode = child.process.poll()
                if returncode is not None:
                    self._on_exit(child, returncode)
            elif child.restart_at is not None and self.clock() >= child.restart_at:
                self._spawn(child)
        self._summarise()
        return self.failed is None

    def run(self, *, interval: float = 0.2) -> int:
        """Supervise until stop() is called (0) or a child keeps failing (1); every child is stopped either way."""
        while not self.stopping.is_set() and self.poll():
            self.stopping.wait(interval)
        self.stop()
        return 1 if self.failed else 0

    def pids(self) -> dict[str, int | None]:
        return {child.name: child.pid for child in self.children}

    def stop(self, *, grace: float = 15.0) -> None:
        """SIGTERM every child, then SIGKILL its whole process group once it has exited or after `grace` seconds.

        SIGTERM goes to the child alone: Celery's main process then shuts down warm (its pool finishes the tasks in
        hand) and gunicorn's master stops its workers; a pool child signalled directly would lose its task."""
        self.stopping.set()
        running = [c.process for c in self.children if c.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # The leader may be gone while others of its group live on (a pool child, a gunicorn worker).
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
