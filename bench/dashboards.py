"""Dashboards benchmark: every request a browser makes for the dashboards, on 14 and then 28 days of minute data.

`python -m bench dashboards` (`--quick` for a small run while developing), on private servers under a temporary
directory, as bench/ingest.py:

1. embedded PostgreSQL + Valkey, `manage.py migrate`, the demo organisation; 150 of its active agents, spread over
   its divisions, × 6 metrics × 14 days ending now at one point a minute (about 18 million points), loaded through
   the real ingestion path (`batch_accept` then `batch_process`, in parallel Django-side processes: bench/dashload.py);
   then VACUUM ANALYZE (a warm, settled database);
2. gunicorn as `make run` starts it (novaops.launcher), a demo lead signed in through the sign-in form;
3. for the overview, a division dashboard, an agent dashboard, a comparison of 2 metrics across all agents and the
   explorer, each over 24 h, 7 d and 14 d: the page's HTML and every `data-figure-url` in it, each once untimed and
   then `--repeat` times timed (figure cache cleared before every request, when the app has one);
4. the same answers computed from `metrics_point` directly (bench/dashraw.py maps each figure URL to its SQL),
   timed with psycopg;
5. the overview in headless Chromium: the load event (median of 5);
6. the 14 days before loaded the same way (28 days, twice the points) and 3 to 5 again, with a 28 d range added.

Prints the tables (p50/p95 per request kind and range, the raw answer's p50, the ratio, and the targets' verdicts)
and writes every figure as JSON (`--json PATH`, default bench/results/dashboards-<timestamp>.json). Exits 0 when a
target is missed (the table says MISSED and by how much); non-zero only when the run itself failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench import dashraw, dashreport, dashweb
from bench.ingest import BIN, BenchFailed, Stack, _free_port, _http_ok, _run_step, _wait_for, service_env
from bench.runner import stack_run
from novaops import embedded, launcher

METRICS = [
    "throughput_tasks_per_min",
    "error_rate_pct",
    "task_latency_p95_ms",
    "tool_call_success_pct",
    "task_latency_p50_ms",
    "uptime_pct",
]
USERNAME = "core"  # the demo organisation's NovaOps Tier 1 lead (agents.demo.DEMO_PEOPLE): reads everything
PAGES = {
    "overview": "/?range={range}",
    "division": "/dashboards/divisions/{division}/?range={range}",
    "agent": "/dashboards/agents/{agent}/?range={range}",
    "compare": "/dashboards/compare/?metric=throughput_tasks_per_min&metric=error_rate_pct&group=agent&range={range}",
    "explorer": "/dashboards/explore/?metric=task_latency_p95_ms&group=agent&range={range}",
}


def _log(message: str) -> None:
    print(f"[dashboards {time.strftime('%H:%M:%S')}] {message}", flush=True)


def agents_pick(divisions: list[dict], count: int) -> list[dict]:
    """`count` active agents taken round-robin over the divisions (so every division has some), as
    [{"division", "handles"}] in the divisions' order, divisions without a pick left out."""
    picked: dict[str, list[str]] = {d["division"]: [] for d in divisions}
    queues = {d["division"]: list(d["handles"]) for d in divisions}
    taken = 0
    while taken < count and any(queues.values()):
        for slug, queue in queues.items():
            if queue and taken < count:
                picked[slug].append(queue.pop(0))
                taken += 1
    if taken < count:
        raise BenchFailed(f"the demo organisation has only {taken} active agents; {count} asked for")
    return [{"division": slug, "handles": handles} for slug, handles in picked.items() if handles]


def load(stack: Stack, env: dict, *, picks: list[dict], start: int, end: int, loaders: int, label: str) -> dict:
    """[start, end) of minute points for the picked agents, by `loaders` processes in parallel; their totals and
    the wall time."""
    spec = stack.root / f"load-{label}.json"
    spec.write_text(json.dumps({"start": start, "end": end, "metrics": METRICS, "divisions": picks}))
    started = time.perf_counter()
    names = []
    for part in range(loaders):
        name = f"load-{label}-{part}"
        command = [str(BIN / "python"), "-m", "bench.dashload", str(spec), "--part", str(part), "--parts", str(loaders)]
        stack.start(name, command, env)
        names.append(name)
    loaders_running = {name: stack.processes[name] for name in names}
    while any(process.poll() is None for process in loaders_running.values()):
        for name, process in stack.processes.items():  # the servers, and the loaders that failed
            if process.poll() is not None and (name not in loaders_running or process.returncode != 0):
                raise BenchFailed(f"{name} exited with {process.returncode}; last lines:\n{stack.tail(name)}")
        time.sleep(0.5)
    totals: dict[str, float] = {}
    for name, process in loaders_running.items():
        del stack.processes[name]  # done: no longer part of what must stay alive
        if process.returncode != 0:
            raise BenchFailed(f"{name} exited with {process.returncode}:\n{stack.tail(name)}")
        for key, value in json.loads(stack.tail(name, 1)).items():
            totals[key] = totals.get(key, 0) + value
    seconds = time.perf_counter() - started
    totals.update({"seconds": seconds, "points_per_second": totals["points"] / seconds, "loaders": loaders})
    return totals


def settle(dsn: str) -> float:
    """VACUUM ANALYZE the tables the pages read, and CHECKPOINT: planner statistics and visibility maps current,
    no autovacuum catching up during the timings."""
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in ("metrics_point", "metrics_rollup", "metrics_series", "agents_agent", "metrics_ingestbatch"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
        conn.execute("CHECKPOINT")
    return time.perf_counter() - started


def cache_clearer(env: dict) -> tuple[object, str]:
    """A callable that empties the app's figure cache before each request, and what it does. The app keeps no
    figure cache yet (no CACHES setting, nothing cached by the dashboards): nothing to clear."""
    return (lambda: None), "the app has no figure cache (nothing to clear; every request computes its answer)"


def api_figures(page: str, r: str, names: dict) -> list[str]:
    """While the pages are missing (--api-fallback): series API URLs standing for each page's figures."""
    span = dashraw.range_parse(r)
    end = int(time.time())
    window = f"start={end - int(span.total_seconds())}&end={end}"
    base = f"/api/v1/metrics/series?{window}&metric="
    key = ",".join(METRICS[:4])
    return {
        "overview": [f"{base}{key}&group_by=division", f"{base}{key}&group_by=domain"],
        "division": [f"{base}{m}&group_by=agent&division={names['division']}" for m in METRICS[:4]],
        "agent": [f"{base}{m}&agent={names['agent']}" for m in METRICS],
        "compare": [f"{base}throughput_tasks_per_min,error_rate_pct&group_by=agent"],
        "explorer": [f"{base}task_latency_p95_ms&group_by=agent"],
    }[page]


def time_pages(client: dashweb.Client, pages: dict[str, str], ranges: list[str], args, names, clear) -> dict:
    """{page: {range: {"timings": Timings}}}: each page at each range, its figures with it."""
    out: dict[str, dict] = {}
    for page, template in pages.items():
        for r in ranges:
            path = template.format(range=r, division=names["division"], agent=names["agent"])
            _log(f"  {page} {r}: {path}")
            figures = None
            if args.api_fallback:  # the pages are not there yet: time the series API's equivalents instead
                path, figures = f"api:{page}?range={r}", api_figures(page, r, names)
            timings = dashweb.page_time(
                client, path, repeat=args.repeat, names=names["placeholders"], cache_clear=clear, figures=figures
            )
            out.setdefault(page, {})[r] = {"path": path, "timings": timings}
    return out


def phase(client, dsn: str, args, names, ranges: list[str], clear, label: str) -> dict:
    """One round of timings (pages, raw answers, the browser) on the data loaded so far."""
    _log(f"{label}: timing {len(PAGES)} pages × {ranges} × {args.repeat}")
    load_before = os.getloadavg()[0]
    timed = time_pages(client, PAGES, ranges, args, names, clear)
    load_after = os.getloadavg()[0]
    _log(f"{label}: raw answers from metrics_point")
    raw_p50, raw_repeats, verified = dashraw.raw_time(
        dsn, timed, repeat=args.raw_repeat, repeat_long=args.raw_repeat_long, log=_log
    )
    summary = {
        page: {
            r: {"path": entry["path"], "kinds": dashreport.summarise(entry["timings"], raw_p50)}
            for r, entry in by_range.items()
        }
        for page, by_range in timed.items()
    }
    browser: list[dict] | dict | None = None
    if not args.no_browser:
        if Path("/usr/bin/chromium").exists():
            browser = []
            for r in ranges:
                _log(f"{label}: overview at {r} in headless Chromium × {args.browser_runs}")
                overview = PAGES["overview"].format(range=r)
                result = dashweb.browser_load(
                    client.port, overview, client.cookies, runs=args.browser_runs, cache_clear=clear
                )
                browser.append({"path": overview, **result})
        else:
            browser = {"skipped": "no chromium"}
    return {
        "pages": summary,
        "raw_repeats": raw_repeats,
        "raw_verified": verified,
        "browser": browser,
        # Other work on the machine moves every figure: the 1-minute load average before and after the requests.
        "loadavg": [load_before, load_after],
    }


def _django_setup(env: dict) -> None:
    """This process reads metrics.selectors.resolution_for and ROLLUP_ORIGIN (for the raw SQL) from the app itself:
    Django configured with the services' environment."""
    os.environ.update(env)
    import django

    django.setup()


def _prepare(args, stack: Stack) -> tuple[dict, str, list[dict], dict]:
    """Servers, schema, the demo organisation and the picked agents' names."""
    root = stack.root
    stack.postgres, stack.valkey = True, True
    dsn, redis_url = embedded.postgres_up(root), embedded.valkey_up(root)
    env = service_env(root=root, dsn=dsn, redis_url=redis_url)
    env["SECURE_COOKIES"] = "false"  # plain HTTP on the loopback: the browser must send the session cookie back
    python = str(BIN / "python")
    _log(f"private servers under {root}; migrate and seed the demo organisation")
    _run_step([python, "manage.py", "migrate", "--no-input", "-v", "0"], env, "manage.py migrate")
    # DEBUG off serves the collected, hashed static files (as in production): the pages need their manifest.
    _run_step([python, "manage.py", "collectstatic", "--no-input", "-v", "0"], env, "manage.py collectstatic")
    divisions = json.loads(_run_step([python, "-m", "bench.djangoside", "demo"], env, "seeding").splitlines()[-1])
    picks = agents_pick(divisions, args.agents)
    biggest = max(picks, key=lambda d: len(d["handles"]))
    names = {
        "division": biggest["division"],
        "agent": biggest["handles"][0],
        "placeholders": {biggest["division"]: "<division>", biggest["handles"][0]: "<agent>"},
    }
    _django_setup(env)
    return env, dsn, picks, names


def _run(args, stack: Stack) -> dict:
    env, dsn, picks, names = _prepare(args, stack)
    end = int(time.time()) // 60 * 60
    days = args.days * 86_400
    figures: dict = {
        "benchmark": "dashboards",
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "workload": {"agents": args.agents, "divisions": len(picks), "metrics": METRICS, "days": args.days},
        "repeat": args.repeat,
        "names": {k: v for k, v in names.items() if k != "placeholders"},
    }
    _log(f"loading {args.agents} agents × {len(METRICS)} metrics × {args.days} d, one point a minute")
    figures["load"] = load(stack, env, picks=picks, start=end - days, end=end, loaders=args.loaders, label="first")
    _log(f"loaded {figures['load']['points']:,} points in {figures['load']['seconds']:.0f} s")
    figures["settle_seconds"] = settle(dsn)

    port = _free_port()
    stack.start("gunicorn", launcher.web_command(bind=f"127.0.0.1:{port}", access_log=False), env)
    _wait_for(lambda: _http_ok(f"http://127.0.0.1:{port}/readyz"), what="gunicorn", stack=stack)
    client = dashweb.Client(port)
    client.sign_in(USERNAME, "novaops-demo")
    clear, figures["figure_cache"] = cache_clearer(env)
    ranges = [f"{n}d" if n > 1 else "24h" for n in (1, 7, args.days)] if args.days > 7 else ["24h", f"{args.days}d"]
    figures["ranges"] = ranges
    figures["first"] = phase(client, dsn, args, names, ranges, clear, f"{args.days} d")
    if not args.no_double:
        _log(f"doubling: the {args.days} d before")
        figures["load_double"] = load(
            stack, env, picks=picks, start=end - 2 * days, end=end - days, loaders=args.loaders, label="double"
        )
        figures["settle_double_seconds"] = settle(dsn)
        figures["ranges_double"] = [*ranges, f"{2 * args.days}d"]
        figures["double"] = phase(client, dsn, args, names, figures["ranges_double"], clear, f"{2 * args.days} d")
    client.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench dashboards", description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=150)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page, range and figure")
    parser.add_argument("--raw-repeat", type=int, default=10, help="timed raw queries over a day or less")
    parser.add_argument("--raw-repeat-long", type=int, default=3, help="timed raw queries over longer ranges")
    parser.add_argument("--browser-runs", type=int, default=5)
    parser.add_argument("--loaders", type=int, default=os.cpu_count() or 2, help="parallel loading processes")
    parser.add_argument("--no-double", action="store_true", help="skip the 28-day half")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--quick", action="store_true", help="20 agents × 2 days, 3 repeats: a check of the bench")
    parser.add_argument("--keep", action="store_true", help="leave the servers and data running (printed)")
    parser.add_argument("--api-fallback", action="store_true", help="time the series API (pages not there yet)")
    parser.add_argument("--json", type=Path, help="where to write the figures")
    args = parser.parse_args(argv)
    if args.quick:
        args.agents, args.days, args.repeat, args.raw_repeat, args.raw_repeat_long = 20, 2, 3, 2, 2

    return stack_run(
        "dashboards", args, _run, dashreport.report, kept=f" (DATABASE_URL {os.environ.get('DATABASE_URL')})"
    )
