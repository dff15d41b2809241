"""Meetings benchmark: the calendar, the feeds and the sync's agenda, on the demo organisation and 53 series.

`python -m bench meetings`, on private servers under a temporary directory, as bench/escalations.py: embedded
PostgreSQL + Valkey, `manage.py migrate`, the demo organisation, `--days` days of its metrics through
`metrics_demo_backfill` (the ingest pipeline), its escalations and the charter's three series (`meetings_demo`);
then in this process (bench/mtgseed.py) 50 more weekly series through `series_create`; VACUUM ANALYZE. Then:

1. the calendar: `/meetings/?view=month|week|agenda` and `GET /api/v1/meetings/occurrences` for this month and for
   a year from its first day, through gunicorn (as `make run`), signed in as the demo lead `core`, 5 untimed then
   `--repeat` timed; baseline: the raw expansion of every series' rule over the same window with
   `recurrence.starts` in this process (patterns read once: no query, no exception laid over, no rendering);
2. the feeds: the lead's `/meetings/feed/<token>.ics` (all 53 series) and the weekly sync's
   `/meetings/series/<id>.ics`; baseline: the same series as an icalendar.Calendar built and serialised in this
   process from plain values, without Django;
3. the agenda of the weekly sync being prepared (the next one: since the last one, up to now): its first build
   (`agenda_build`, each in a transaction rolled back) and a rebuild, in this process; baseline: the dashboards'
   `period_summary` the agenda reads, for the same metrics, period and divisions, called directly; then, frozen,
   the occurrence page and the presenter view through gunicorn.

Query counts per request come from Django's test client in this process, at 3 series and at 53 (they must not grow
with the series or the occurrences). Figures are printed as ratios against the baselines; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path

import psycopg

from bench import mtgreport, mtgseed
from bench.dashboards import _django_setup
from bench.dashweb import Client
from bench.escalations import WARM_UP, _ms, query_counts
from bench.ingest import BIN, Stack, _free_port, _http_ok, _run_step, _wait_for, service_env
from bench.runner import stack_run
from novaops import embedded, launcher


def _log(message: str) -> None:
    print(f"[meetings {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _window(view: str, today) -> tuple[datetime, datetime]:
    from meetings.views.calendar import window_of

    window = window_of(view, today)
    return datetime.combine(window.first, time_of_day(0), tzinfo=UTC), datetime.combine(
        window.last, time_of_day(0), tzinfo=UTC
    )


def requests_of(*, token: str, sync_id: int) -> list[dict]:
    """What is timed: label, path, and the baseline (an expansion window, or the series of a plain calendar)."""
    today = datetime.now(UTC).date()
    month = datetime(today.year, today.month, 1, tzinfo=UTC)
    next_month = (month + timedelta(days=32)).replace(day=1)
    api = "/api/v1/meetings/occurrences?start={}&end={}"
    return [
        {"label": "page month", "path": "/meetings/?view=month", "window": _window("month", today)},
        {"label": "page week", "path": "/meetings/?view=week", "window": _window("week", today)},
        {"label": "page agenda (28 days)", "path": "/meetings/?view=agenda", "window": _window("agenda", today)},
        {"label": "API occurrences, a month", "path": api.format(_z(month), _z(next_month)),
         "window": (month, next_month)},
        {"label": "API occurrences, a year", "path": api.format(_z(month), _z(month + timedelta(days=365))),
         "window": (month, month + timedelta(days=365))},
        {"label": "feed of the lead (every series)", "path": f"/meetings/feed/{token}.ics", "feed": None},
        {"label": "series .ics (weekly sync)", "path": f"/meetings/series/{sync_id}.ics", "feed": [sync_id]},
    ]  # fmt: skip


def _baseline(request: dict, *, repeat: int) -> dict:
    if "window" in request:
        start, end = request["window"]
        samples, found = mtgseed.raw_expansion(start=start, end=end, repeat=repeat)
        return {"raw": _ms(samples), "raw_items": found}
    samples, size = mtgseed.plain_feed(series_ids=request["feed"], repeat=repeat)
    return {"raw": _ms(samples), "raw_bytes": size}


def time_requests(port: int, requests: list[dict], *, repeat: int) -> list[dict]:
    """Each request through gunicorn (WARM_UP untimed, then `repeat` timed), and its baseline in this process."""
    client = Client(port)
    client.sign_in(mtgseed.lead().username, "novaops-demo")
    out = []
    for request in requests:
        for _ in range(WARM_UP):  # every gunicorn worker and thread
            body, _ = client.get(request["path"])
        ours = [client.get(request["path"])[1] for _ in range(repeat)]
        row = {"label": request["label"], "path": request["path"], "ours": _ms(ours), "bytes": len(body)}
        if "window" in request or "feed" in request:
            row.update(_baseline(request, repeat=repeat))
        out.append(row)
    client.close()
    return out


def _prepare(args, stack: Stack) -> tuple[dict, str]:
    stack.postgres, stack.valkey = True, True
    dsn, redis_url = embedded.postgres_up(stack.root), embedded.valkey_up(stack.root)
    env = service_env(root=stack.root, dsn=dsn, redis_url=redis_url)
    env["SECURE_COOKIES"] = "false"
    python, manage = str(BIN / "python"), "manage.py"
    _log(f"private servers under {stack.root}; migrate, collectstatic, the demo organisation")
    _run_step([python, manage, "migrate", "--no-input", "-v", "0"], env, "manage.py migrate")
    _run_step([python, manage, "collectstatic", "--no-input", "-v", "0"], env, "manage.py collectstatic")
    _run_step([python, "-m", "bench.djangoside", "demo"], env, "seeding")
    _log(f"{args.days} days of demo metrics (metrics_demo_backfill), the demo escalations and meetings")
    backfill = [python, manage, "metrics_demo_backfill", "--days", str(args.days), "--force"]
    _log(_run_step(backfill, env, "metrics_demo_backfill").strip())
    _run_step([python, manage, "escalations_demo", "--force"], env, "escalations_demo")
    _run_step([python, manage, "meetings_demo", "--force"], env, "meetings_demo")
    _django_setup(env)
    return env, dsn


def _seed(args, dsn: str, figures: dict) -> list[dict]:
    from meetings.models import MeetingSeries

    sync_id = MeetingSeries.objects.get(title="Weekly sync").pk
    requests = requests_of(token=mtgseed.feed_token(), sync_id=sync_id)
    paths = [r["path"] for r in requests]
    figures["queries_at_3"] = {"series": MeetingSeries.objects.count(), "counts": query_counts(paths)}
    _log(f"adding {args.series} weekly series through series_create")
    started = time.perf_counter()
    mtgseed.weekly_series_add(count=args.series, seed=args.seed)
    figures["series_seconds"] = time.perf_counter() - started
    figures["series"] = MeetingSeries.objects.count()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    figures["queries"] = query_counts(paths)
    return requests


def _agenda(args, figures: dict) -> list[dict]:
    """The agenda timed in-process, then frozen; the occurrence page and presenter view to time through gunicorn."""
    from meetings import recurrence

    occurrence = mtgseed.next_sync()
    _log(f"the agenda of the weekly sync of {occurrence.start:%Y-%m-%d}: first build, rebuild, the period summary")
    figures["agenda"] = mtgseed.time_agenda(occurrence, repeat=args.repeat)
    mtgseed.freeze(occurrence)
    base = f"/meetings/series/{occurrence.series_id}/{recurrence.recurrence_id(occurrence.original_start)}/"
    pages = [
        {"label": "occurrence page, frozen", "path": base},
        {"label": "presenter view, frozen", "path": base + "present/"},
    ]
    figures["queries"].update(query_counts([p["path"] for p in pages]))
    return pages


def _run(args, stack: Stack) -> dict:
    started = time.perf_counter()
    env, dsn = _prepare(args, stack)
    figures: dict = {
        "benchmark": "meetings",
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "days": args.days,
        "repeat": args.repeat,
    }
    requests = _seed(args, dsn, figures)
    figures["setup_seconds"] = time.perf_counter() - started
    _log(f"setup took {figures['setup_seconds']:.0f} s")
    pages = _agenda(args, figures)
    port = _free_port()
    stack.start("gunicorn", launcher.web_command(bind=f"127.0.0.1:{port}", access_log=False), env)
    _wait_for(lambda: _http_ok(f"http://127.0.0.1:{port}/readyz"), what="gunicorn", stack=stack)
    _log("timing the requests")
    figures["loadavg"] = [os.getloadavg()[0]]
    figures["requests"] = time_requests(port, requests + pages, repeat=args.repeat)
    figures["loadavg"].append(os.getloadavg()[0])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench meetings", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=4, help="days of demo metrics backfilled")
    parser.add_argument("--series", type=int, default=50, help="weekly series added to the charter's three")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests each (after 5 untimed)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="leave the servers and data running")
    parser.add_argument("--json", type=Path, help="where to write the figures")
    args = parser.parse_args(argv)

    return stack_run("meetings", args, _run, mtgreport.report)
