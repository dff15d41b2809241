"""Ingestion benchmark: points through the real HTTP API and Celery worker, against raw COPY and naive DRF.

One run, on private servers under a temporary directory (never var/, never ports 5432/6379):

1. embedded PostgreSQL + Valkey, `manage.py migrate`, a division with 200 agents and a token;
2. gunicorn (2 workers × 4 threads, as `make run`) and ONE Celery worker (prefork, `--concurrency 2` by default,
   as `make run`: two batches at once, and the verification below then also catches rollup updates lost between
   them; `--concurrency 1` processes one batch at a time, so its RSS shows what one batch costs);
3. end to end: N points (8 metrics × 200 agents, timestamps over the last 5 hours by default — `--span-hours 72`
   for the sparse worst case — tags on two metrics)
   posted in batches of 50,000 by 2 keep-alive HTTP clients, timed from the first POST until every batch is
   `done` — the points are then committed and their 5-minute/hour/day rollups recomputed, which is verified
   (count of points = distinct (series, ts) posted = sum of the rollup counts at every resolution);
4. baseline: psycopg 3 binary COPY of the same rows into a fresh table of the same shape (range-partitioned by day,
   PRIMARY KEY (series_id, ts), partitions created beforehand); text COPY measured too, the faster one counts;
5. naive DRF: `ModelSerializer(many=True)` with unique_together (series, ts) saving 10,000 of the same points;
6. the worker's process-tree RSS, sampled every 50 ms, with its value after the first and after the last batch.

Prints a table with PASS/FAIL against the targets (end-to-end ≥ 0.40 × COPY live-like, ≥ 0.25 × COPY over more than a
day of history, ≥ 50 × naive DRF), writes the
figures to bench/results/ingest-<timestamp>.json and exits 0 — non-zero only when the run itself failed.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import math
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psutil
import psycopg

from bench.formats import FORMATS, Post
from novaops import embedded, launcher

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"
BIN = Path(sys.executable).parent

# Eight metrics of the default catalogue (migration 0003); two of them carry tags.
METRICS = [
    "task_latency_p50_ms",
    "task_latency_p95_ms",
    "latency_p95_ms",
    "throughput_tasks_per_min",
    "error_rate_pct",
    "tool_call_success_pct",
    "queue_backlog",
    "cost_per_task_usd",
]
TAGGED_METRICS = {"latency_p95_ms", "error_rate_pct"}
REGIONS = ["eu-west", "us-east", "ap-south"]
MODELS = ["large", "medium", "small"]
# Native JSON on sparse history (more than a day: --span-hours 72); each format's own target for live-like history
# (the default 5 h) is in bench.formats.
TARGET_VS_COPY_SPARSE = 0.25
SPARSE_SPAN_HOURS = 24
TARGET_VS_DRF = 50.0
MIB = 1024 * 1024


class BenchFailed(Exception):
    """The run itself went wrong (a process died, a batch failed, the data does not verify): exit non-zero."""


# --- workload -----------------------------------------------------------------------------------------------------


@dataclass
class Workload:
    """The points, column-wise and time-ordered (slot by slot, all series per slot), and their series."""

    handles: list[str]
    series: list[tuple[str, str, dict | None]]  # (metric, agent handle, tags)
    per_series: int
    step_s: int
    series_idx: array = field(default_factory=lambda: array("H"))
    ts_s: array = field(default_factory=lambda: array("q"))
    values: array = field(default_factory=lambda: array("d"))

    def __len__(self) -> int:
        return len(self.ts_s)


def workload_build(*, points: int, handles: list[str], span_hours: float, now: datetime, seed: int) -> Workload:
    """8 metrics × agents series; each reports every `step` seconds at its agent's own phase over `span_hours`."""
    rng = random.Random(seed)
    series: list[tuple[str, str, dict | None]] = []
    base: list[float] = []
    for agent_no, handle in enumerate(handles):
        for metric in METRICS:
            tags = None
            if metric in TAGGED_METRICS:
                tags = {"region": REGIONS[agent_no % len(REGIONS)], "model": MODELS[(agent_no // 3) % len(MODELS)]}
            series.append((metric, handle, tags))
            base.append(rng.uniform(5, 500))
    per_series = math.ceil(points / len(series))
    step_s = max(1, int(span_hours * 3600 // per_series))
    end_s = int(now.timestamp()) - 60
    start_s = end_s - per_series * step_s
    phases = [rng.randrange(step_s) for _ in handles]
    per_agent = len(METRICS)

    workload = Workload(handles=handles, series=series, per_series=per_series, step_s=step_s)
    add_series, add_ts, add_value = workload.series_idx.append, workload.ts_s.append, workload.values.append
    gauss = rng.gauss
    for slot in range(per_series):
        slot_s = start_s + slot * step_s
        for idx, (metric, _, _) in enumerate(series):
            add_series(idx)
            add_ts(slot_s + phases[idx // per_agent])
            if metric == "queue_backlog":
                add_value(float(max(0, round(gauss(base[idx] / 10, 3)))))
            else:
                add_value(round(abs(gauss(base[idx], base[idx] * 0.1)), 3))
    return workload


def batch_bodies(workload: Workload, *, batch_size: int) -> list[bytes]:
    """JSON bodies as a client would send them: RFC 3339 timestamps, ints for counters, tags where they belong."""
    ts_text: dict[int, str] = {}
    bodies = []
    for start in range(0, len(workload), batch_size):
        points = []
        for i in range(start, min(start + batch_size, len(workload))):
            metric, handle, tags = workload.series[workload.series_idx[i]]
            ts = workload.ts_s[i]
            text = ts_text.get(ts)
            if text is None:
                text = ts_text[ts] = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            value = workload.values[i]
            number = int(value) if value.is_integer() else value
            point = {"metric": metric, "agent": handle, "ts": text, "value": number}
            if tags:
                point["tags"] = tags
            points.append(point)
        bodies.append(orjson.dumps({"points": points}))
    return bodies


# --- processes ----------------------------------------------------------------------------------------------------


class Stack:
    """Everything this run starts, so that `close()` can stop it all, whatever happened before."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.postgres = False
        self.valkey = False

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.root / f"{name}.log"
        with open(log, "wb") as out:
            # Own session: a Ctrl-C reaches only us, and we stop the children in order.
            process = subprocess.Popen(
                command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes[name] = process
        self.logs[name] = log
        return process

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise BenchFailed(f"{name} exited with {process.returncode}; last lines:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.logs[name].read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def close(self) -> None:
        """Stop the web server and worker, then the servers, then remove the directory. A second Ctrl-C (or the
        SIGTERM that `timeout` also sends to its whole process group) must not cut this short: ignored here."""
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for process in self.processes.values():
                self._signal(process, signal.SIGTERM)
            deadline = time.monotonic() + 20
            for process in self.processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self._signal(process, signal.SIGKILL)
                    process.wait()
            for name, stop in (("valkey", embedded.valkey_down), ("postgres", embedded.postgres_down)):
                if getattr(self, name):
                    try:
                        stop(self.root)
                    except Exception as exc:  # keep going: the rest must still be cleaned up
                        print(f"Could not stop the embedded {name} under {self.root}: {exc!r}", file=sys.stderr)
            shutil.rmtree(self.root, ignore_errors=True)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @staticmethod
    def _signal(process: subprocess.Popen, sig: int) -> None:
        # Each child leads its own process group (start_new_session), so this reaches its workers too.
        if process.poll() is None:
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, *, what: str, stack: Stack, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        if predicate():
            return
        time.sleep(0.2)
    raise BenchFailed(f"{what} did not come up within {timeout:.0f} s")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _run_step(command: list[str], env: dict[str, str], what: str) -> str:
    result = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchFailed(f"{what} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


# --- measurement helpers ------------------------------------------------------------------------------------------


class RssSampler(threading.Thread):
    """RSS of a process and all its descendants (the Celery worker and its pool), every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.root = psutil.Process(pid)
        self.interval = interval
        self.stop = threading.Event()
        self.latest = 0
        self.peak = 0
        self.peak_process = 0  # the largest single process seen (the pool child that holds a batch)
        self.samples = 0

    def sample(self) -> int:
        total = 0
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return self.latest
        for process in processes:
            try:
                rss = process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            total += rss
            self.peak_process = max(self.peak_process, rss)
        return total

    def run(self) -> None:
        while not self.stop.is_set():
            self.latest = self.sample()
            self.peak = max(self.peak, self.latest)
            self.samples += 1
            self.stop.wait(self.interval)


class BatchMonitor(threading.Thread):
    """Polls the batch table every 50 ms: when each batch turns `done` (client-observed time), and the worker's
    RSS at that moment. Reads PostgreSQL directly so that polling costs the web tier nothing."""

    def __init__(self, dsn: str, sampler: RssSampler, expected: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True, name="batch-monitor")
        self.dsn = dsn
        self.sampler = sampler
        self.expected = expected
        self.interval = interval
        self.stop = threading.Event()
        self.all_done = threading.Event()
        self.done_at: dict[int, float] = {}
        self.rss_after: dict[int, int] = {}
        self.failed: dict[int, str] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                while not self.stop.is_set():
                    rows = conn.execute(
                        "SELECT id, status, error FROM metrics_ingestbatch WHERE status IN ('done', 'failed')"
                    ).fetchall()
                    now = time.perf_counter()
                    for batch_id, status, error in rows:
                        if status == "failed":
                            self.failed[batch_id] = error
                        elif batch_id not in self.done_at:
                            self.done_at[batch_id] = now
                            self.rss_after[batch_id] = self.sampler.latest
                    if self.failed or len(self.done_at) >= self.expected:
                        self.all_done.set()
                        return
                    self.stop.wait(self.interval)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            self.all_done.set()


@dataclass
class PostResult:
    index: int
    batch_id: int | None  # native posts only: the protocols answer without one
    seconds: float
    sent_at: float
    answered_at: float


def _post_batches(
    *,
    port: int,
    token: str,
    posts: list[Post],
    accepted: frozenset[int],
    clients: int,
    run_id: str,
    host: str = "127.0.0.1",
) -> tuple[float, float, list[PostResult], list[str]]:
    """Send every request through `clients` keep-alive connections; returns (first POST, last answer, results,
    resends)."""
    queue = list(range(len(posts)))
    lock = threading.Lock()
    results: list[PostResult] = []
    errors: list[BaseException] = []
    resends: list[str] = []
    start = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=600)
        try:
            start.wait()
            while True:
                with lock:
                    if not queue or errors:
                        return
                    index = queue.pop(0)
                post = posts[index]
                # The protocol formats carry no key: NovaOps takes a resent body's digest for one.
                headers = {**post.headers, "Authorization": f"Bearer {token}", "Idempotency-Key": f"{run_id}-{index}"}
                for attempt in range(10):
                    sent = time.perf_counter()
                    try:
                        conn.request("POST", post.path, body=post.body, headers=headers)
                        response = conn.getresponse()
                        payload = response.read()
                    except (ConnectionError, http.client.HTTPException) as exc:
                        # The server dropped the keep-alive connection: reconnect and resend, as a real client
                        # would; the Idempotency-Key makes a resend safe even if the first copy was stored.
                        conn.close()
                        conn = http.client.HTTPConnection(host, port, timeout=600)
                        with lock:
                            resends.append(f"batch {index}: {exc!r}")
                        continue
                    answered = time.perf_counter()
                    if response.status in accepted:
                        batch_id = orjson.loads(payload)["id"] if response.status == 202 else None
                        with lock:
                            results.append(PostResult(index, batch_id, answered - sent, sent, answered))
                        break
                    if response.status in (429, 503) and attempt < 9:
                        with lock:
                            resends.append(f"batch {index}: {response.status}")
                        # What a real client does: retry a 503 (docs/architecture.md, "Contracts"); counted in the
                        # end-to-end time.
                        time.sleep(float(response.getheader("Retry-After") or 1))
                        continue
                    raise BenchFailed(f"POST of batch {index} answered {response.status}: {payload[:1000]!r}")
                else:
                    raise BenchFailed(f"POST of batch {index} still failing after 10 attempts: {resends[-3:]}")
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True, name=f"client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    first_post = time.perf_counter()
    start.wait()
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(0.2)  # short joins keep Ctrl-C responsive
    if errors:
        raise errors[0] if isinstance(errors[0], BenchFailed) else BenchFailed(f"client failed: {errors[0]!r}")
    return first_post, max(r.answered_at for r in results), sorted(results, key=lambda r: r.index), resends


def _warm_up(port: int, token: str, host: str = "127.0.0.1") -> None:
    """A few invalid POSTs (400, nothing stored) so each gunicorn worker has imported and connected."""
    body = orjson.dumps({"points": [{"metric": "no_such_metric", "ts": "not a time", "value": 1}]})
    for _ in range(6):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request(
            "POST",
            "/api/v1/metrics/batches",
            body=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status != 400:
            raise BenchFailed(f"warm-up POST answered {response.status}, expected 400")


def _api_statuses(port: int, token: str, batch_ids: list[int]) -> dict[str, int]:
    """What a client sees afterwards: GET /api/v1/metrics/batches/<id> for every batch (one keep-alive connection)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    seen: dict[str, int] = {}
    try:
        for batch_id in batch_ids:
            conn.request("GET", f"/api/v1/metrics/batches/{batch_id}", headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise BenchFailed(f"GET batch {batch_id} answered {response.status}: {body[:500]!r}")
            batch = orjson.loads(body)
            key = f"{batch['status']} ({batch['points_written']:,} of {batch['points']:,} written)"
            seen[key] = seen.get(key, 0) + 1
    finally:
        conn.close()
    return seen


def _quiesce(conn: psycopg.Connection, timeout: float = 120) -> float:
    """CHECKPOINT and wait for autovacuum to finish, so the baseline does not pay for the pipeline's leftovers."""
    started = time.perf_counter()
    conn.execute("CHECKPOINT")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
        ).fetchone()[0]
        if not busy:
            break
        time.sleep(0.5)
    return time.perf_counter() - started


def _copy_table_create(conn: psycopg.Connection, name: str, days: list[datetime]) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(
        f"""
        CREATE TABLE {name} (
            series_id bigint NOT NULL,
            ts timestamptz NOT NULL,
            value double precision NOT NULL,
            PRIMARY KEY (series_id, ts)
        ) PARTITION BY RANGE (ts)
        """
    )
    for day in days:
        conn.execute(
            f"CREATE TABLE {name}_{day:%Y%m%d} PARTITION OF {name} "
            f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
        )


def copy_baseline(*, dsn: str, rows: list[tuple[int, datetime, float]]) -> dict:
    """psycopg 3 COPY of the rows into a fresh day-partitioned (series_id, ts)-keyed table, commit included."""
    first = min(ts for _, ts, _ in rows).replace(hour=0, minute=0, second=0, microsecond=0)
    last = max(ts for _, ts, _ in rows)
    days = []
    day = first
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    results = {}
    with psycopg.connect(dsn, autocommit=True) as admin:
        results["quiesce_seconds"] = _quiesce(admin)
        # Binary COPY, rows handed over one by one (psycopg's C encoder): what a Python client of COPY does.
        _copy_table_create(admin, "bench_copy_binary", days)
        with psycopg.connect(dsn) as conn:
            started = time.perf_counter()
            with conn.cursor() as cursor:
                with cursor.copy("COPY bench_copy_binary (series_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(["int8", "timestamptz", "float8"])
                    write_row = copy.write_row
                    for row in rows:
                        write_row(row)
            conn.commit()
            binary_seconds = time.perf_counter() - started
        # Text COPY of a prepared buffer: no per-row client work at all, only the server's parsing.
        buffer = io.StringIO()
        for series_id, ts, value in rows:
            buffer.write(f"{series_id}\t{ts.isoformat()}\t{value!r}\n")
        data = buffer.getvalue().encode()
        _copy_table_create(admin, "bench_copy_text", days)
        with psycopg.connect(dsn) as conn:
            started = time.perf_counter()
            with conn.cursor() as cursor:
                with cursor.copy("COPY bench_copy_text (series_id, ts, value) FROM STDIN") as copy:
                    view = memoryview(data)
                    for offset in range(0, len(view), 1 << 20):
                        copy.write(view[offset : offset + (1 << 20)])
            conn.commit()
            text_seconds = time.perf_counter() - started
        for name in ("bench_copy_binary", "bench_copy_text"):
            stored = admin.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            if stored != len(rows):
                raise BenchFailed(f"{name} holds {stored} rows, expected {len(rows)}")
            admin.execute(f"DROP TABLE {name}")
    results.update(
        {
            "rows": len(rows),
            "partitions": len(days),
            "binary_seconds": binary_seconds,
            "binary_points_per_second": len(rows) / binary_seconds,
            "text_seconds": text_seconds,
            "text_points_per_second": len(rows) / text_seconds,
        }
    )
    best = "binary" if binary_seconds <= text_seconds else "text"
    results["baseline"] = best
    results["points_per_second"] = results[f"{best}_points_per_second"]
    return results


def verify(conn: psycopg.Connection, *, expected: int, series: int) -> dict:
    """The end state the end-to-end clock stands for: every point stored once, every rollup level complete."""
    points = conn.execute("SELECT count(*) FROM metrics_point").fetchone()[0]
    stored_series = conn.execute("SELECT count(*) FROM metrics_series").fetchone()[0]
    rollups = dict(
        conn.execute("SELECT resolution, sum(count)::bigint FROM metrics_rollup GROUP BY resolution").fetchall()
    )
    point_sum = conn.execute("SELECT sum(value) FROM metrics_point").fetchone()[0] or 0.0
    rollup_sum = conn.execute("SELECT sum(sum) FROM metrics_rollup WHERE resolution = 300").fetchone()[0] or 0.0
    rollup_rows = dict(conn.execute("SELECT resolution, count(*) FROM metrics_rollup GROUP BY resolution").fetchall())
    problems = []
    if points != expected:
        problems.append(f"metrics_point holds {points} rows, expected {expected}")
    if stored_series != series:
        problems.append(f"metrics_series holds {stored_series} rows, expected {series}")
    for resolution in (300, 3600, 86400):
        if rollups.get(resolution) != expected:
            problems.append(f"rollup counts at {resolution}s sum to {rollups.get(resolution)}, expected {expected}")
    if not math.isclose(point_sum, rollup_sum, rel_tol=1e-9):
        problems.append(f"5-minute rollup sums {rollup_sum} differ from the points' sum {point_sum}")
    if problems:
        raise BenchFailed("verification failed: " + "; ".join(problems))
    return {
        "points": points,
        "series": stored_series,
        "rollup_counts": {str(k): v for k, v in sorted(rollups.items())},
        "rollup_rows": {str(k): v for k, v in sorted(rollup_rows.items())},
    }


# --- the run ------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    root = Path(tempfile.mkdtemp(prefix="novaops-bench-"))
    stack = Stack(root)
    try:
        return _run(args, stack)
    except KeyboardInterrupt:
        raise
    except BaseException:
        for name in stack.processes:
            print(f"--- last lines of {name}'s log ---\n{stack.tail(name)}", file=sys.stderr)
        raise
    finally:
        stack.close()


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def service_env(*, root: Path, dsn: str, redis_url: str) -> dict[str, str]:
    """The environment of the services a benchmark starts: its private servers, production settings over plain HTTP
    on the loopback, and nothing read from var/ (the data directory is the run's own)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on the loopback: no TLS proxy in front, so no redirect to https.
            "SECURE_SSL_REDIRECT": "false",
            # Keeps settings away from var/ (and its dev.env) entirely.
            "NOVAOPS_DATA_DIR": str(root),
        }
    )
    return launcher.environment(env)


def servers_up(stack: Stack, *, agents: int, extra_env: dict[str, str] | None = None) -> tuple:
    """Private PostgreSQL and Valkey under the stack's directory, migrated and seeded with a division of `agents`
    agents and its token: (dsn, env, token, handles)."""
    stack.postgres = True
    dsn = embedded.postgres_up(stack.root)
    stack.valkey = True
    redis_url = embedded.valkey_up(stack.root)
    env = {**service_env(root=stack.root, dsn=dsn, redis_url=redis_url), **(extra_env or {})}
    python = str(BIN / "python")
    _log("migrate")
    _run_step([python, "manage.py", "migrate", "--no-input", "-v", "0"], env, "manage.py migrate")
    seeded = json.loads(
        _run_step([python, "-m", "bench.djangoside", "seed", "--agents", str(agents)], env, "seeding").splitlines()[-1]
    )
    return dsn, env, seeded["token"], seeded["handles"]


def services_start(stack: Stack, env: dict[str, str], *, token: str, concurrency: int) -> tuple[int, subprocess.Popen]:
    """gunicorn and one Celery worker with the shipped command lines (novaops/launcher.py, as `make run` starts them),
    minus the access log; returns (port, worker) once both answer and every gunicorn worker is warm."""
    port = _free_port()
    _log(f"gunicorn on 127.0.0.1:{port} (2 workers × 4 threads), celery worker --concurrency {concurrency}")
    stack.start("gunicorn", launcher.web_command(bind=f"127.0.0.1:{port}", access_log=False), env)
    worker = stack.start("worker", launcher.worker_command(concurrency=concurrency, hostname="bench@%h"), env)
    _wait_for(lambda: _http_ok(f"http://127.0.0.1:{port}/readyz"), what="gunicorn", stack=stack)
    _wait_for(lambda: "ready." in stack.logs["worker"].read_text(errors="replace"), what="celery worker", stack=stack)
    _warm_up(port, token)
    return port, worker


def _run(args: argparse.Namespace, stack: Stack) -> dict:
    root = stack.root
    _log(f"private servers under {root}")
    dsn, env, token, handles = servers_up(stack, agents=args.agents)

    now = datetime.now(UTC)
    fmt = FORMATS[args.format]
    _log(f"building {args.points:,} points and their {fmt.name} bodies")
    workload = workload_build(points=args.points, handles=handles, span_hours=args.span_hours, now=now, seed=args.seed)
    bodies = fmt.encode(workload, args.batch_size)
    # A push carries no timestamps: each of its points is stored at the push's own time.
    distinct = (
        len({(idx << 40) | ts for idx, ts in zip(workload.series_idx, workload.ts_s, strict=True)})
        if fmt.timestamped
        else len(workload)
    )

    port, worker = services_start(stack, env, token=token, concurrency=args.concurrency)

    sampler = RssSampler(worker.pid)
    sampler.latest = sampler.peak = sampler.sample()
    idle_rss = sampler.latest
    sampler.start()
    monitor = BatchMonitor(dsn, sampler, expected=len(bodies))
    monitor.start()

    _log(f"posting {len(workload):,} points in {len(bodies)} {fmt.name} requests with {args.clients} clients")
    run_id = f"bench-{secrets.token_hex(4)}"
    load_before = os.getloadavg()
    first_post, last_answer, posts, resends = _post_batches(
        port=port, token=token, posts=bodies, accepted=fmt.accepted, clients=args.clients, run_id=run_id
    )
    _log(f"all {len(posts)} batches accepted after {last_answer - first_post:.1f} s; waiting for the worker")
    deadline = time.monotonic() + max(600, len(workload) / 500)
    while not monitor.all_done.wait(0.2):
        stack.check_alive()
        if time.monotonic() > deadline:
            raise BenchFailed(f"only {len(monitor.done_at)} of {len(bodies)} batches done before the deadline")
    if monitor.error:
        raise BenchFailed(f"batch monitor failed: {monitor.error!r}")
    if monitor.failed:
        raise BenchFailed(f"batches failed: {monitor.failed}")
    finished = max(monitor.done_at.values())
    load_after = os.getloadavg()
    sampler.stop.set()
    sampler.join()
    end_to_end_seconds = finished - first_post

    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        verified = verify(conn, expected=distinct, series=len(workload.series))
        verify_seconds = time.perf_counter() - started
        batch_rows = conn.execute(
            "SELECT id, point_count, points_written, created_at, started_at, finished_at FROM metrics_ingestbatch "
            "ORDER BY id"
        ).fetchall()
        series_ids = {
            (metric, handle, orjson.dumps(tags or {}, option=orjson.OPT_SORT_KEYS)): series_id
            for series_id, metric, handle, tags in conn.execute(
                "SELECT s.id, m.key, a.handle, s.tags FROM metrics_series s "
                "JOIN metrics_metric m ON m.id = s.metric_id LEFT JOIN agents_agent a ON a.id = s.agent_id"
            )
        }
    api_statuses = _api_statuses(port, token, [post.batch_id for post in posts if post.batch_id is not None])
    if not all(key.startswith("done ") for key in api_statuses):
        raise BenchFailed(f"the API shows batches that are not done: {api_statuses}")
    _log(f"end to end {end_to_end_seconds:.1f} s; verified in {verify_seconds:.1f} s; API: {api_statuses}")

    # The same rows for the baselines: (series_id, ts, value) exactly as stored (a push's grouping labels, job and
    # group, are tags of its series the workload does not have).
    if not fmt.timestamped:
        series_ids = {
            (metric, handle, orjson.dumps(_without_grouping(tags), option=orjson.OPT_SORT_KEYS)): series_id
            for (metric, handle, tags), series_id in series_ids.items()
        }
    id_of = [
        series_ids[(metric, handle, orjson.dumps(tags or {}, option=orjson.OPT_SORT_KEYS))]
        for metric, handle, tags in workload.series
    ]
    moments: dict[int, datetime] = {}
    rows = []
    for idx, ts, value in zip(workload.series_idx, workload.ts_s, workload.values, strict=True):
        moment = moments.get(ts)
        if moment is None:
            moment = moments[ts] = datetime.fromtimestamp(ts, UTC)
        rows.append((id_of[idx], moment, value))
    _log("baseline: raw COPY of the same rows")
    copy = copy_baseline(dsn=dsn, rows=rows)

    _log(f"naive DRF ModelSerializer(many=True) on {args.naive_points:,} points")
    naive_rows = [{"series": s, "ts": ts.isoformat(), "value": v} for s, ts, v in rows[: args.naive_points]]
    naive_file = root / "naive.json"
    naive_file.write_bytes(orjson.dumps(naive_rows))
    naive_out = _run_step(
        [str(BIN / "python"), "-m", "bench.djangoside", "naive", "--rows", str(naive_file)], env, "naive DRF"
    )
    naive = json.loads(naive_out.splitlines()[-1])

    done_order = sorted(monitor.done_at.items(), key=lambda item: item[1])
    first_batch, last_batch = done_order[0][0], done_order[-1][0]
    processing = [(r[5] - r[4]).total_seconds() for r in batch_rows if r[4] and r[5]]
    queue_waits = [(r[4] - r[3]).total_seconds() for r in batch_rows if r[4]]
    worker_span = (max(r[5] for r in batch_rows) - min(r[4] for r in batch_rows)).total_seconds()
    e2e_rate = len(workload) / end_to_end_seconds
    return {
        "benchmark": "ingest",
        "when": now.isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            # Other work on the machine skews every figure; the 1-minute load average says how busy it was.
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "workload": {
            "points": len(workload),
            "distinct_series_ts": distinct,
            "series": len(workload.series),
            "agents": len(handles),
            "metrics": len(METRICS),
            "tagged_metrics": sorted(TAGGED_METRICS),
            "step_seconds": workload.step_s,
            "span_hours": round(workload.per_series * workload.step_s / 3600, 1),
            "format": fmt.name,
            "batch_size": args.batch_size,
            "batches": len(bodies),
            "body_bytes_mean": sum(len(post.body) for post in bodies) // len(bodies),
            "clients": args.clients,
            "gunicorn": "2 workers x 4 threads",
            "celery_concurrency": args.concurrency,
        },
        "end_to_end": {
            "seconds": end_to_end_seconds,
            "points_per_second": e2e_rate,
            "accept_seconds": last_answer - first_post,
            "accept_points_per_second": len(workload) / (last_answer - first_post),
            "post_seconds_mean": sum(p.seconds for p in posts) / len(posts),
            "post_seconds_max": max(p.seconds for p in posts),
            "worker_busy_seconds": sum(processing),
            "worker_span_seconds": worker_span,
            "batch_process_seconds_mean": sum(processing) / len(processing),
            "batch_process_seconds_max": max(processing),
            "queue_wait_seconds_max": max(queue_waits),
            "batch_process_seconds": [round(x, 3) for x in processing],
            "resends": resends,
            "verify_seconds": verify_seconds,
            "verified": verified,
            "api_batch_statuses": api_statuses,
        },
        "copy": copy,
        "drf_naive": naive,
        "worker_rss": {
            "idle_bytes": idle_rss,
            "peak_bytes": sampler.peak,
            "peak_single_process_bytes": sampler.peak_process,
            "after_first_batch_bytes": monitor.rss_after[first_batch],
            "after_last_batch_bytes": monitor.rss_after[last_batch],
            "after_each_batch_bytes": [monitor.rss_after[batch_id] for batch_id, _ in done_order],
            "samples": sampler.samples,
            "interval_seconds": sampler.interval,
        },
        "ratios": {
            "end_to_end_vs_copy": e2e_rate / copy["points_per_second"],
            "end_to_end_vs_drf_naive": e2e_rate / naive["autocommit"]["points_per_second"],
            "end_to_end_vs_drf_naive_atomic": e2e_rate / naive["atomic"]["points_per_second"],
        },
    }


def _without_grouping(tags_json: bytes) -> dict:
    return {k: v for k, v in orjson.loads(tags_json).items() if k not in ("job", "group")}


# --- report -------------------------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(figures: dict) -> str:
    w, e, c, n, r, m = (
        figures["workload"],
        figures["end_to_end"],
        figures["copy"],
        figures["drf_naive"],
        figures["ratios"],
        figures["worker_rss"],
    )
    vs_copy, vs_drf = r["end_to_end_vs_copy"], r["end_to_end_vs_drf_naive"]
    target = (
        TARGET_VS_COPY_SPARSE
        if w["format"] == "native" and w["span_hours"] > SPARSE_SPAN_HOURS
        else FORMATS[w["format"]].target_vs_copy
    )
    first, last = m["after_first_batch_bytes"], m["after_last_batch_bytes"]
    lines = [
        f"NovaOps ingestion benchmark — {w['points']:,} points ({w['series']:,} series: {w['metrics']} metrics × "
        f"{w['agents']} agents, one point per series every {w['step_seconds']} s over {w['span_hours']} h), "
        f"{w['batches']} {w['format']} requests of up to {w['batch_size']:,} (~{w['body_bytes_mean'] / MIB:.1f} MiB), "
        f"{w['clients']} HTTP clients, gunicorn {w['gunicorn']}, 1 celery worker --concurrency "
        f"{w['celery_concurrency']}, {figures['machine']['cpus']} CPUs",
        "",
        f"{'figure':<58} {'value':>20}  {'target':>8}  result",
        "-" * 98,
        f"{'end to end: first POST → all batches done, rollups current':<58} {e['points_per_second']:>13,.0f} pts/s"
        f"  {'':>8}",
        f"{'  (seconds)':<58} {e['seconds']:>18.2f} s",
        f"{'raw COPY baseline (' + c['baseline'] + ', same rows, same table shape)':<58} "
        f"{c['points_per_second']:>13,.0f} pts/s",
        f"{'  binary COPY / text COPY':<58} "
        f"{c['binary_points_per_second']:>8,.0f} / {c['text_points_per_second']:,.0f}",
        f"{'end-to-end / COPY':<58} {vs_copy:>20.3f}  {'≥ ' + format(target, '.2f'):>8}  {_verdict(vs_copy >= target)}",
        f"{'DRF naive ModelSerializer(many=True), ' + format(n['autocommit']['points'], ',') + ' points':<58} "
        f"{n['autocommit']['points_per_second']:>13,.0f} pts/s",
        f"{'  same in one transaction':<58} {n['atomic']['points_per_second']:>13,.0f} pts/s",
        f"{'end-to-end / DRF naive':<58} {vs_drf:>20.1f}  {'≥ 50':>8}  {_verdict(vs_drf >= TARGET_VS_DRF)}",
        f"{'  end-to-end / DRF naive in one transaction':<58} {r['end_to_end_vs_drf_naive_atomic']:>20.1f}",
        f"{'worker peak RSS (process tree, sampled every 50 ms)':<58} {m['peak_bytes'] / MIB:>16.1f} MiB",
        f"{'  largest single process (pool child)':<58} {m['peak_single_process_bytes'] / MIB:>16.1f} MiB",
        f"{'worker RSS idle / after 1st batch / after last batch':<58} "
        f"{m['idle_bytes'] / MIB:>6.1f} / {first / MIB:.1f} / {last / MIB:.1f} MiB (Δ {(last - first) / MIB:+.1f})",
        f"{'  after each of the ' + str(len(m['after_each_batch_bytes'])) + ' batches: min / max':<58} "
        f"{min(m['after_each_batch_bytes']) / MIB:>9.1f} / {max(m['after_each_batch_bytes']) / MIB:.1f} MiB",
        "-" * 98,
        f"web tier: all batches accepted (202) in {e['accept_seconds']:.2f} s = "
        f"{e['accept_points_per_second']:,.0f} pts/s; POST latency mean {e['post_seconds_mean']:.2f} s, "
        f"max {e['post_seconds_max']:.2f} s",
        f"worker: batches took {e['worker_busy_seconds']:.2f} s in all, {e['batch_process_seconds_mean']:.2f} s each "
        f"(max {e['batch_process_seconds_max']:.2f} s), {e['worker_span_seconds']:.2f} s from first start to last "
        f"finish",
        f"machine: load average {figures['machine']['loadavg_before'][0]:.1f} before / "
        f"{figures['machine']['loadavg_after'][0]:.1f} after the end-to-end phase (other work skews every figure)",
        f"verified: {e['verified']['points']:,} points = distinct (series, ts) posted = rollup counts "
        f"{e['verified']['rollup_counts']} (rows {e['verified']['rollup_rows']}); DRF validators: "
        f"{', '.join(n['validators']) or 'none'}, {n['autocommit']['statements']:,} SQL statements for "
        f"{n['autocommit']['points']:,} points",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ingest", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--points",
        type=int,
        default=1_000_000,
        help="points to post end to end (default 1,000,000; rounded up to a whole number per series)",
    )
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument(
        "--format",
        choices=sorted(FORMATS),
        default="native",
        help="how the points are posted: native JSON (default), OTLP/HTTP protobuf, Prometheus remote write, or "
        "Pushgateway text (one push per time slot and group of series, stored at the time it is accepted)",
    )
    parser.add_argument(
        "--clients", type=int, default=None, help="concurrent HTTP clients (default 2, 32 with --small)"
    )
    parser.add_argument("--concurrency", type=int, default=2, help="celery worker pool size (default 2, as `make run`)")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument(
        "--span-hours",
        type=float,
        default=5,
        help="time range the points cover (default 5: a live fleet reporting every ~30 s; 72 spreads one point per "
        "series every ~7 minutes, the worst case for rollups, which then write about as many rows as points)",
    )
    parser.add_argument("--naive-points", type=int, default=10_000)
    small = parser.add_argument_group("small batches (--small: bench/ingestsmall.py)")
    small.add_argument(
        "--small",
        action="store_true",
        help="many clients (--clients, default 32) posting small batches at --rate for --duration instead",
    )
    small.add_argument("--points-per-batch", type=int, default=6)
    small.add_argument("--rate", type=float, default=150, help="batches/s from all clients together; 0: flat out")
    small.add_argument("--duration", type=float, default=30, help="seconds of posting (default 30)")
    small.add_argument(
        "--backlog",
        type=int,
        default=2000,
        help="then this many batches posted with the worker stopped, and drained by a fresh one (0: skip)",
    )
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args(argv)
    if args.small:
        from bench import ingestsmall

        args.clients = args.clients or 32
        return ingestsmall.main(args)
    args.clients = args.clients or 2
    if args.naive_points > args.points:
        parser.error("--naive-points cannot exceed --points")

    def terminate(signum, frame):  # SIGTERM unwinds like Ctrl-C, through every `finally`
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        figures = run(args)
    except KeyboardInterrupt:
        print("\nInterrupted; everything this run started has been stopped and removed.", file=sys.stderr)
        return 130
    except BenchFailed as exc:
        print(f"\nBenchmark run failed: {exc}", file=sys.stderr)
        return 1
    print()
    print(report(figures))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"\nFigures written to {out.relative_to(BASE_DIR)}")
    return 0
