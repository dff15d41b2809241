"""`python -m bench ingest --small`: many clients posting small batches often, as agents and remote-write shards do.

One run, on private servers (the same stack as the default ingest benchmark: gunicorn 2 workers × 4 threads and one
Celery worker `--concurrency 2`, as `make run`):

1. `--clients` keep-alive HTTP clients (default 32), each acting for its own agents, POST batches of `--points`
   points (default 6: six metrics of one agent at one moment) for `--duration` seconds, together at `--rate`
   batches a second (default 150, spread evenly over the clients; `--rate 0` posts as fast as the server answers,
   which measures saturation instead);
2. a monitor counts the batches done every 100 ms, and the worker's process-tree RSS is sampled every 50 ms;
3. figures: batches/s accepted (202), POST latency p50 / p99 / max, batches/s drained end to end (from the first POST
   until every batch is done, rollups current), how far the worker was behind when the clients stopped, RSS after the
   first and after the last batch; checked: every point stored once and counted once at every rollup level.

The per-division batch quota is lifted for the run (one seeded division stands for a whole fleet: 150 batches/s is
five 150-agent divisions posting every 5 s each); the quota check itself still runs on every POST.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import psycopg

from bench.ingest import (
    MIB,
    BenchFailed,
    RssSampler,
    Stack,
    _log,
    servers_up,
    services_start,
)
from bench.runner import stack_run
from novaops import launcher

METRICS = [
    "task_latency_p50_ms",
    "task_latency_p95_ms",
    "throughput_tasks_per_min",
    "error_rate_pct",
    "tool_call_success_pct",
    "queue_backlog",
    "cost_per_task_usd",
    "latency_p95_ms",
]
TARGET_BATCHES_PER_SECOND = 150.0
TARGET_P99_SECONDS = 0.100


@dataclass
class Posts:
    """What the clients saw: one latency per accepted POST, and everything that was not a 202."""

    latencies: list[float] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)
    first_post: float = 0.0
    last_answer: float = 0.0


def _client_loop(
    *,
    port: int,
    token: str,
    handles: list[str],
    points: int,
    interval: float,
    phase: float,
    duration: float,
    posts: Posts,
    lock: threading.Lock,
    start: threading.Barrier,
    errors: list[BaseException],
) -> None:
    rng = random.Random(phase)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    latencies, refused = [], {}
    try:
        start.wait()
        began = time.perf_counter()
        until = began + duration
        sent_count = 0
        while True:
            due = began + phase + sent_count * interval
            now = time.perf_counter()
            if due > until or now > until:
                break
            if due > now:
                time.sleep(due - now)
            handle = handles[sent_count % len(handles)]
            # Microseconds keep every (series, ts) distinct: each client posts only its own agents.
            moment = datetime.now(UTC).isoformat()
            body = orjson.dumps(
                {
                    "points": [
                        {
                            "metric": METRICS[i % len(METRICS)],
                            "agent": handle,
                            "ts": moment,
                            "value": round(rng.uniform(1, 500), 3),
                        }
                        for i in range(points)
                    ]
                }
            )
            sent = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/metrics/batches", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (ConnectionError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                refused[type(exc).__name__] = refused.get(type(exc).__name__, 0) + 1
                sent_count += 1
                continue
            if response.status == 202:
                latencies.append(time.perf_counter() - sent)
            else:
                refused[str(response.status)] = refused.get(str(response.status), 0) + 1
            sent_count += 1
    except BaseException as exc:
        errors.append(exc)
    finally:
        conn.close()
        with lock:
            posts.latencies.extend(latencies)
            for key, count in refused.items():
                posts.refused[key] = posts.refused.get(key, 0) + count


def post_small(
    *, port: int, token: str, handles: list[str], clients: int, rate: float, duration: float, points: int
) -> Posts:
    """Every client posts its share of `rate` batches a second (evenly phased), or back to back with rate 0."""
    posts, lock, errors = Posts(), threading.Lock(), []
    start = threading.Barrier(clients + 1)
    interval = clients / rate if rate > 0 else 0.0
    threads = [
        threading.Thread(
            target=_client_loop,
            kwargs={
                "port": port,
                "token": token,
                "handles": handles[n::clients] or handles,
                "points": points,
                "interval": interval,
                "phase": interval * n / clients,
                "duration": duration,
                "posts": posts,
                "lock": lock,
                "start": start,
                "errors": errors,
            },
            daemon=True,
            name=f"small-{n}",
        )
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    posts.first_post = time.perf_counter()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # short joins keep Ctrl-C responsive
    posts.last_answer = time.perf_counter()
    if errors:
        raise BenchFailed(f"client failed: {errors[0]!r}")
    return posts


class DoneCounter(threading.Thread):
    """Counts batches done every 100 ms (straight from PostgreSQL); notes the worker's RSS when the first one is done
    and when the last one is, and when that was."""

    def __init__(self, dsn: str, sampler: RssSampler) -> None:
        super().__init__(daemon=True, name="done-counter")
        self.dsn, self.sampler = dsn, sampler
        self.stop = threading.Event()
        self.expected: int | None = None
        self.done = self.failed = self.total = 0
        self.rss_first = self.rss_last = 0
        self.all_done_at = 0.0
        self.all_done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                while not self.stop.is_set():
                    self.total, self.done, self.failed = conn.execute(
                        "SELECT count(*), count(*) FILTER (WHERE status = 'done'),"
                        " count(*) FILTER (WHERE status = 'failed') FROM metrics_ingestbatch"
                    ).fetchone()
                    if self.done and not self.rss_first:
                        self.rss_first = self.sampler.latest
                    if self.expected is not None and self.done + self.failed >= self.expected:
                        self.all_done_at = time.perf_counter()
                        self.rss_last = self.sampler.latest
                        self.all_done.set()
                        return
                    self.stop.wait(0.1)
        except BaseException as exc:
            self.error = exc
            self.all_done.set()


def _backlog_drain(
    args: argparse.Namespace, stack: Stack, env: dict, *, port: int, token: str, handles: list[str], dsn: str
) -> dict:
    """With the worker stopped, post `--backlog` batches flat out; then start a worker and time how fast it drains
    them (what a worker does after an outage, and the most it can take)."""
    worker = stack.processes.pop("worker")
    stack._signal(worker, signal.SIGTERM)
    worker.wait(timeout=60)
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = conn.execute("SELECT count(*) FROM metrics_ingestbatch").fetchone()[0]
        posts = Posts()
        while len(posts.latencies) < args.backlog:
            more = post_small(
                port=port,
                token=token,
                handles=handles,
                clients=args.clients,
                rate=0,
                duration=2,
                points=args.points_per_batch,
            )
            posts.latencies += more.latencies
        queued = conn.execute("SELECT count(*) FROM metrics_ingestbatch WHERE status = 'queued'").fetchone()[0]
        _log(f"backlog: {queued} batches queued; starting a worker")
        started = time.perf_counter()
        stack.start("worker-backlog", launcher.worker_command(concurrency=args.concurrency, hostname="backlog@%h"), env)
        deadline = time.monotonic() + 600
        while conn.execute("SELECT count(*) FROM metrics_ingestbatch WHERE status <> 'done'").fetchone()[0]:
            stack.check_alive()
            if time.monotonic() > deadline:
                raise BenchFailed("the backlog was not drained within 10 minutes")
            time.sleep(0.05)
        drained = time.perf_counter() - started
        landings = conn.execute(
            "SELECT count(DISTINCT started_at) FROM metrics_ingestbatch WHERE id > %s", [before]
        ).fetchone()[0]
    return {
        "batches": queued,
        "seconds_from_worker_start": drained,
        "batches_per_second": queued / drained,
        "landing_transactions": landings,
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _run(args: argparse.Namespace, stack: Stack) -> dict:
    root = stack.root
    _log(f"private servers under {root}")
    # The quota is lifted: one seeded division stands for several 150-agent ones.
    dsn, env, token, handles = servers_up(
        stack, agents=args.agents, extra_env={"METRICS_QUOTA_BATCHES_PER_MINUTE": str(10**9)}
    )

    port, worker = services_start(stack, env, token=token, concurrency=args.concurrency)

    sampler = RssSampler(worker.pid)
    sampler.latest = sampler.peak = sampler.sample()
    idle_rss = sampler.latest
    sampler.start()
    counter = DoneCounter(dsn, sampler)
    counter.start()
    offered = f"{args.rate:g} batches/s" if args.rate > 0 else "as fast as answered"
    _log(f"{args.clients} clients post {args.points_per_batch}-point batches for {args.duration:g} s, {offered}")
    load_before = os.getloadavg()
    posts = post_small(
        port=port,
        token=token,
        handles=handles,
        clients=args.clients,
        rate=args.rate,
        duration=args.duration,
        points=args.points_per_batch,
    )
    accepted = len(posts.latencies)
    if not accepted:
        raise BenchFailed(f"no batch was accepted: {posts.refused}")
    behind = accepted - counter.done
    _log(f"{accepted} batches accepted, {behind} not done yet when the clients stopped; waiting for the worker")
    counter.expected = accepted
    deadline = time.monotonic() + 600
    while not counter.all_done.wait(0.2):
        stack.check_alive()
        if time.monotonic() > deadline:
            raise BenchFailed(f"only {counter.done} of {accepted} batches done after 10 minutes")
    if counter.error:
        raise BenchFailed(f"done counter failed: {counter.error!r}")
    if counter.failed:
        raise BenchFailed(f"{counter.failed} batches failed")
    load_after = os.getloadavg()
    sampler.stop.set()
    sampler.join()

    with psycopg.connect(dsn, autocommit=True) as conn:
        stored = conn.execute("SELECT count(*) FROM metrics_point").fetchone()[0]
        rollups = dict(
            conn.execute("SELECT resolution, sum(count)::bigint FROM metrics_rollup GROUP BY resolution").fetchall()
        )
        batches, attempts, groups = conn.execute(
            "SELECT count(*), sum(attempts), count(DISTINCT started_at) FROM metrics_ingestbatch"
        ).fetchone()
    expected_points = accepted * args.points_per_batch
    problems = [f"{stored} points stored, expected {expected_points}"] if stored != expected_points else []
    problems += [
        f"rollup counts at {r}s sum to {rollups.get(r)}, expected {expected_points}"
        for r in (300, 3600, 86400)
        if rollups.get(r) != expected_points
    ]
    if batches != accepted:
        problems.append(f"{batches} batches stored, {accepted} accepted")
    if problems:
        raise BenchFailed("verification failed: " + "; ".join(problems))

    backlog = None
    if args.backlog:
        backlog = _backlog_drain(args, stack, env, port=port, token=token, handles=handles, dsn=dsn)

    posting_seconds = posts.last_answer - posts.first_post
    end_to_end_seconds = counter.all_done_at - posts.first_post
    return {
        "benchmark": "ingest-small",
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": load_after},
        "workload": {
            "clients": args.clients,
            "points_per_batch": args.points_per_batch,
            "offered_batches_per_second": args.rate,
            "duration_seconds": args.duration,
            "agents": len(handles),
            "gunicorn": "2 workers x 4 threads",
            "celery_concurrency": args.concurrency,
        },
        "posts": {
            "accepted": accepted,
            "refused": posts.refused,
            "seconds": posting_seconds,
            "accepted_per_second": accepted / posting_seconds,
            "p50_seconds": _percentile(posts.latencies, 0.50),
            "p99_seconds": _percentile(posts.latencies, 0.99),
            "max_seconds": max(posts.latencies),
        },
        "end_to_end": {
            "seconds": end_to_end_seconds,
            "batches_per_second": accepted / end_to_end_seconds,
            "points_per_second": expected_points / end_to_end_seconds,
            "not_done_when_posting_stopped": behind,
            "drain_after_posting_seconds": counter.all_done_at - posts.last_answer,
            "landing_transactions": groups,
            "batches_per_landing_transaction": accepted / max(1, groups),
            "attempts": attempts,
        },
        "backlog": backlog,
        "verified": {"points": stored, "rollup_counts": {str(k): v for k, v in sorted(rollups.items())}},
        "worker_rss": {
            "idle_bytes": idle_rss,
            "after_first_batch_bytes": counter.rss_first,
            "after_last_batch_bytes": counter.rss_last,
            "peak_bytes": sampler.peak,
        },
    }


def report(figures: dict) -> str:
    w, p, e, m = figures["workload"], figures["posts"], figures["end_to_end"], figures["worker_rss"]
    offered = (
        f"{w['offered_batches_per_second']:g} batches/s offered"
        if w["offered_batches_per_second"]
        else ("back to back (saturation)")
    )
    accepted_ok = p["accepted_per_second"] >= TARGET_BATCHES_PER_SECOND
    drained_ok = e["batches_per_second"] >= TARGET_BATCHES_PER_SECOND
    p99_ok = p["p99_seconds"] <= TARGET_P99_SECONDS

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    lines = [
        f"NovaOps small-batch ingestion — {w['clients']} HTTP clients posting {w['points_per_batch']}-point batches "
        f"for {w['duration_seconds']:g} s, {offered}; gunicorn {w['gunicorn']}, 1 celery worker --concurrency "
        f"{w['celery_concurrency']}, {figures['machine']['cpus']} CPUs",
        "",
        f"{'figure':<58} {'value':>20}  {'target':>8}  result",
        "-" * 98,
        f"{'batches accepted (202) per second':<58} {p['accepted_per_second']:>12,.1f} batch/s  {'≥ 150':>8}  "
        f"{verdict(accepted_ok)}",
        f"{'POST latency p50':<58} {p['p50_seconds'] * 1000:>17.1f} ms",
        f"{'POST latency p99':<58} {p['p99_seconds'] * 1000:>17.1f} ms  {'≤ 100':>8}  {verdict(p99_ok)}",
        f"{'POST latency max':<58} {p['max_seconds'] * 1000:>17.1f} ms",
        f"{'end to end: first POST → every batch done, rollups current':<58} "
        f"{e['batches_per_second']:>12,.1f} batch/s  {'≥ 150':>8}  {verdict(drained_ok)}",
        f"{'  points per second':<58} {e['points_per_second']:>13,.0f} pts/s",
        f"{'  batches not done when the clients stopped / drained in':<58} "
        f"{e['not_done_when_posting_stopped']:>9} / {e['drain_after_posting_seconds']:.2f} s",
        f"{'  landing transactions (batches each, mean)':<58} "
        f"{e['landing_transactions']:>9} ({e['batches_per_landing_transaction']:.1f})",
        f"{'worker RSS idle / after 1st batch / after last batch':<58} {m['idle_bytes'] / MIB:>6.1f} / "
        f"{m['after_first_batch_bytes'] / MIB:.1f} / {m['after_last_batch_bytes'] / MIB:.1f} MiB "
        f"(Δ {(m['after_last_batch_bytes'] - m['after_first_batch_bytes']) / MIB:+.1f})",
        *(
            [
                f"{'backlog: ' + format(b['batches'], ',') + ' queued batches drained by a fresh worker':<58} "
                f"{b['batches_per_second']:>12,.1f} batch/s  (from its start, in {b['landing_transactions']} landings)"
            ]
            if (b := figures.get("backlog"))
            else []
        ),
        "-" * 98,
        f"accepted {p['accepted']:,} batches in {p['seconds']:.1f} s; not accepted: {p['refused'] or 'none'}; "
        f"attempts {e['attempts']:,}",
        f"machine: load average {figures['machine']['loadavg_before'][0]:.1f} before / "
        f"{figures['machine']['loadavg_after'][0]:.1f} after (other work skews every figure)",
        f"verified: {figures['verified']['points']:,} points = batches × points = rollup counts "
        f"{figures['verified']['rollup_counts']}",
    ]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    args.keep, args.json = False, None
    if not 1 <= args.points_per_batch <= len(METRICS):
        raise SystemExit(f"--points-per-batch must be 1 to {len(METRICS)} (one point per metric of one agent)")
    return stack_run("ingest-small", args, _run, report)
