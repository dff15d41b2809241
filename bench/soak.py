"""Soak: the demo simulator's traffic at ten times its rate for a long while, through a broker and a database restart.

`python -m bench soak --minutes 30` starts private embedded servers, migrates, seeds the demo organisation (eight
divisions, a token each), starts web, worker and beat as `make run` does, and posts every division's live points
every `5 / rate` seconds (the simulator's batches, each round with its own timestamp). A client that gets a 503, a
connection error or a timeout posts the same body again with the same Idempotency-Key, as a real client does. A third
of the way in, Redis is stopped for `--outage` seconds; two thirds in, PostgreSQL. At the end it waits for every
accepted batch to land and prints, as ratios against baselines measured in the same run:

- points stored / points accepted (1.000: nothing lost) and rollup count / points stored (1.000: nothing counted
  twice), the duplicates being what a batch landed twice would leave in the rollups;
- p99 POST latency over the whole run against the p99 of the first minute (before any fault);
- the worker's and web's RSS (each process tree) at the end against the start.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.ingest import (
    BIN,
    RESULTS_DIR,
    BenchFailed,
    RssSampler,
    Stack,
    _free_port,
    _http_ok,
    _run_step,
    _wait_for,
    service_env,
)
from novaops import embedded, launcher

DEFAULT_INTERVAL = 5.0  # the simulator's round, seconds (metrics_demo_simulate --interval)


def _log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Tally:
    """What the clients saw; appended to from several threads (list.append is atomic)."""

    latencies: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, seconds)
    statuses: dict[int, int] = field(default_factory=dict)
    accepted_batches: list[int] = field(default_factory=list)
    accepted_points: list[int] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # bodies never accepted before the end

    def status(self, code: int) -> None:
        self.statuses[code] = self.statuses.get(code, 0) + 1


def _points(handles: list[str], slug: str, moment: datetime) -> list[dict]:
    from metrics.demo import live_points

    stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # The simulator's values, each round at its own millisecond: rounds closer than a second never overwrite.
    return [{**point, "ts": stamp} for point in live_points(division_slug=slug, handles=handles, moment=moment)]


def _post(port: int, token: str, body: bytes, key: str, tally: Tally, started: float, deadline: float) -> None:
    """Post until accepted (202) or refused for good; 503, 429 and lost connections are retried with the same key."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key}
    while time.monotonic() < deadline:
        sent = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            connection.request(
                "POST",
                "/api/v1/metrics/batches",
                body=body,
                headers=headers,
            )
            response = connection.getresponse()
            answer = response.read()
        except OSError as exc:
            tally.retries.append(f"{key}: {type(exc).__name__}")
            time.sleep(1)
            continue
        finally:
            connection.close()
        tally.status(response.status)
        tally.latencies.append((sent - started, time.monotonic() - sent))
        if response.status == 202:
            batch = json.loads(answer)
            tally.accepted_batches.append(batch["id"])
            tally.accepted_points.append(batch["points"])
            return
        if response.status in (429, 503):
            tally.retries.append(f"{key}: {response.status}")
            time.sleep(float(response.getheader("Retry-After") or 1))
            continue
        raise BenchFailed(f"POST {key} answered {response.status}: {answer[:300]!r}")
    tally.lost.append(key)


def _clients(port: int, divisions: list[dict], *, interval: float, seconds: float, tally: Tally) -> threading.Thread:
    """One thread per division, each posting a round every `interval` seconds until `seconds` have passed."""
    started = time.monotonic()
    origin = datetime.now(UTC).replace(microsecond=0)

    def division_client(division: dict) -> None:
        rounds = int(seconds / interval)
        for n in range(rounds):
            time.sleep(max(0.0, started + n * interval - time.monotonic()))
            moment = origin + timedelta(seconds=n * interval)
            body = json.dumps({"points": _points(division["handles"], division["division"], moment)}).encode()
            key = f"soak-{division['division']}-{n}"
            _post(port, division["token"], body, key, tally, started, started + seconds + 120)

    threads = [threading.Thread(target=division_client, args=(d,), daemon=True) for d in divisions]
    for thread in threads:
        thread.start()

    def join() -> None:
        for thread in threads:
            thread.join()

    joiner = threading.Thread(target=join, daemon=True)
    joiner.start()
    return joiner


def _outage(name: str, stop, start, seconds: float) -> None:
    _log(f"{name} stopped for {seconds:.0f} s")
    stop()
    time.sleep(seconds)
    start()
    _log(f"{name} back")


def _landed(dsn: str, batch_ids: list[int], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT status, count(*) FROM metrics_ingestbatch WHERE id = ANY(%s) GROUP BY status", [batch_ids]
            ).fetchall()
            by_status = dict(rows)
            if by_status.get("done", 0) == len(batch_ids) or time.monotonic() > deadline:
                break
            time.sleep(1)
        stored = conn.execute("SELECT count(*) FROM metrics_point").fetchone()[0]
        rolled = conn.execute("SELECT coalesce(sum(count), 0) FROM metrics_rollup WHERE resolution = 300").fetchone()[0]
        attempts = conn.execute("SELECT coalesce(max(attempts), 0) FROM metrics_ingestbatch").fetchone()[0]
    return {"by_status": by_status, "stored": stored, "rolled": int(rolled), "max_attempts": attempts}


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


def _run(args: argparse.Namespace, stack: Stack) -> dict:
    root = stack.root
    stack.postgres, stack.valkey = True, True
    dsn, redis_url = embedded.postgres_up(root), embedded.valkey_up(root)
    env = service_env(root=root, dsn=dsn, redis_url=redis_url)
    python = str(BIN / "python")
    _log(f"private servers under {root}; migrate and seed the demo organisation")
    _run_step([python, "manage.py", "migrate", "--no-input", "-v", "0"], env, "manage.py migrate")
    divisions = json.loads(_run_step([python, "-m", "bench.djangoside", "demo"], env, "seeding").splitlines()[-1])

    port = _free_port()
    web = stack.start("web", launcher.web_command(bind=f"127.0.0.1:{port}", access_log=False), env)
    worker = stack.start("worker", launcher.worker_command(), env)
    stack.start("beat", launcher.beat_command(schedule=root / "celerybeat-schedule"), env)
    _wait_for(lambda: _http_ok(f"http://127.0.0.1:{port}/readyz"), what="web", stack=stack)
    _wait_for(lambda: "ready." in stack.logs["worker"].read_text(errors="replace"), what="worker", stack=stack)
    web_rss, worker_rss = RssSampler(web.pid), RssSampler(worker.pid)
    rss_start = {"web": web_rss.sample(), "worker": worker_rss.sample()}

    seconds, interval = args.minutes * 60, DEFAULT_INTERVAL / args.rate
    points_per_round = sum(len(d["handles"]) * 4 + 3 for d in divisions)
    _log(f"{len(divisions)} divisions, {points_per_round} points a round every {interval:g} s for {args.minutes} min")
    tally = Tally()
    clients = _clients(port, divisions, interval=interval, seconds=seconds, tally=tally)
    started = time.monotonic()
    for fraction, name, stop, start in (
        (1 / 3, "Redis", lambda: embedded.valkey_down(root), lambda: embedded.valkey_up(root)),
        (2 / 3, "PostgreSQL", lambda: embedded.postgres_down(root), lambda: embedded.postgres_up(root)),
    ):
        while time.monotonic() < started + fraction * seconds:
            stack.check_alive()
            time.sleep(1)
        _outage(name, stop, start, args.outage)
    while clients.is_alive():
        stack.check_alive()
        clients.join(1)
    _log(f"posting done: {len(tally.accepted_batches)} batches accepted; waiting for them to land")
    landed = _landed(dsn, tally.accepted_batches, timeout=600)
    stack.check_alive()
    rss_end = {"web": web_rss.sample(), "worker": worker_rss.sample()}
    accepted = sum(tally.accepted_points)
    early = [latency for at, latency in tally.latencies if at < 60]
    return {
        "minutes": args.minutes,
        "rate": args.rate,
        "outage_seconds": args.outage,
        "batches_accepted": len(tally.accepted_batches),
        "batches_done": landed["by_status"].get("done", 0),
        "points_accepted": accepted,
        "points_stored": landed["stored"],
        "rollup_count": landed["rolled"],
        "stored_over_accepted": landed["stored"] / accepted if accepted else float("nan"),
        "rolled_over_stored": landed["rolled"] / landed["stored"] if landed["stored"] else float("nan"),
        "duplicates": landed["rolled"] - landed["stored"],
        "lost_bodies": len(tally.lost),
        "statuses": tally.statuses,
        "retries": len(tally.retries),
        "max_attempts": landed["max_attempts"],
        "p99_post_seconds": _p99([latency for _, latency in tally.latencies]),
        "p99_first_minute_seconds": _p99(early),
        "rss_start_mib": {k: v / 2**20 for k, v in rss_start.items()},
        "rss_end_mib": {k: v / 2**20 for k, v in rss_end.items()},
        "same_worker_pid": worker.poll() is None,
    }


def report(figures: dict) -> str:
    rss = figures["rss_start_mib"], figures["rss_end_mib"]
    lines = [
        f"soak: {figures['minutes']} min at {figures['rate']:g}× the simulator, Redis and PostgreSQL each down "
        f"{figures['outage_seconds']:.0f} s",
        f"  batches accepted / done        {figures['batches_accepted']:,} / {figures['batches_done']:,}",
        f"  points accepted / stored       {figures['points_accepted']:,} / {figures['points_stored']:,}"
        f"   ratio {figures['stored_over_accepted']:.4f} (1.0000: nothing lost)",
        f"  rollup count / points stored   {figures['rollup_count']:,} / {figures['points_stored']:,}"
        f"   ratio {figures['rolled_over_stored']:.4f} (1.0000: nothing counted twice; duplicates "
        f"{figures['duplicates']:,})",
        f"  bodies never accepted          {figures['lost_bodies']}",
        f"  answers                        {figures['statuses']} ({figures['retries']} retried)",
        f"  p99 POST latency               {figures['p99_post_seconds'] * 1000:.0f} ms over the run vs "
        f"{figures['p99_first_minute_seconds'] * 1000:.0f} ms in the first minute (ratio "
        f"{figures['p99_post_seconds'] / figures['p99_first_minute_seconds']:.1f})",
    ]
    for name in ("web", "worker"):
        start, end = rss[0][name], rss[1][name]
        lines.append(f"  {name:<6} RSS start / end           {start:.0f} / {end:.0f} MiB (ratio {end / start:.2f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=10, help="times the simulator's rate (default 10)")
    parser.add_argument("--outage", type=float, default=10, help="seconds each server is down (default 10)")
    args = parser.parse_args(argv)

    def terminate(signum, frame):  # SIGTERM unwinds like Ctrl-C, through every `finally`
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    stack = Stack(Path(tempfile.mkdtemp(prefix="novaops-soak-")))
    try:
        figures = _run(args, stack)
    except KeyboardInterrupt:
        print("\nInterrupted; everything this run started has been stopped and removed.", file=sys.stderr)
        return 130
    except BenchFailed as exc:
        print(f"\nSoak failed: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.close()
    print()
    print(report(figures))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"\nFigures written to {out}")
    return 0
