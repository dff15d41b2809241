"""Escalations benchmark: the queue, a long ticket, the SLA sweep and a transition, on N tickets.

`python -m bench escalations` (`--tickets 5000` by default), on private servers under a temporary directory, as
bench/dashboards.py: embedded PostgreSQL + Valkey, `manage.py migrate`, the demo organisation, then in this process
(bench/escseed.py) N tickets raised through `escalation_raise` (kinds, priorities, 2–3 divisions, claims for
resource conflicts), states, breaches and comments set in bulk with the trail's triggers on, and one ticket told
through the services with 200 edits and 100 comments; VACUUM ANALYZE. Then:

1. the queue: `GET /api/v1/escalations` and the `/escalations/` page, default filters and
   `state=active&breached=true&sort=due`, through gunicorn (as `make run`), signed in as the demo lead `core`, 5 untimed
   then `--repeat` timed;
   baseline: the same page's ticket rows read with one raw SQL statement (psycopg);
2. the long ticket: its page and `GET /api/v1/escalations/<n>`; baseline: its event rows and comments, one raw
   statement;
3. a transition (acknowledge, `escalation_transition`, under the row lock) per op; baseline: a bare
   `UPDATE … SET state WHERE id` on other open tickets;
4. the SLA sweep over `--sweep` overdue tickets; baseline: one plain UPDATE of the same rows' level (rolled back).

Query counts per request come from Django's test client in this process, at a tenth of N and at N (they must not
grow with N). Figures are printed as ratios against the baselines measured in the same run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench import escreport, escseed
from bench.dashboards import _django_setup
from bench.dashweb import Client, percentile
from bench.ingest import BIN, BenchFailed, Stack, _free_port, _http_ok, _run_step, _wait_for, service_env
from bench.runner import stack_run
from novaops import embedded, launcher

ACTIVE = "('open', 'acknowledged', 'in_progress', 'waiting_on_raiser')"
BREACHED = (
    "(acknowledge_breached_at IS NOT NULL OR resolve_breached_at IS NOT NULL"
    " OR (state = 'open' AND acknowledge_due_at < now())"
    " OR (state IN ('open', 'acknowledged', 'in_progress') AND resolve_due_at < now()))"
)
DEFAULT_SQL = "SELECT * FROM escalations_escalation ORDER BY created_at DESC, number DESC LIMIT {n}"
BREACHED_SQL = (
    f"SELECT * FROM escalations_escalation WHERE state IN {ACTIVE} AND {BREACHED} "
    "ORDER BY resolve_due_at, number DESC LIMIT {n}"
)
EVENTS = ["escalationdivision", "escalationassignee", "escalationagent", "escalationmetric", "resourceclaim"]
TICKET_SQL = " UNION ALL ".join(
    [
        "SELECT row_to_json(e)::text FROM escalations_escalationevent e WHERE pgh_obj_id = %(id)s",
        *(f"SELECT row_to_json(e)::text FROM escalations_{t}event e WHERE escalation_id = %(id)s" for t in EVENTS),
        "SELECT row_to_json(e)::text FROM escalations_signoffevent e WHERE escalation_id = %(id)s",
        "SELECT row_to_json(e)::text FROM escalations_followupevent e WHERE escalation_id = %(id)s",
        "SELECT row_to_json(c)::text FROM escalations_comment c WHERE escalation_id = %(id)s",
    ]
)
WARM_UP = 5  # untimed requests first: each gunicorn worker imports what a request needs on its first one
FILTERED = "?state=active&breached=true&sort=due"


def _log(message: str) -> None:
    print(f"[escalations {time.strftime('%H:%M:%S')}] {message}", flush=True)


def requests_of(number: int) -> list[dict]:
    """What is timed: (label, path, the baseline's SQL and parameters)."""
    return [
        {"label": "API queue, default", "path": "/api/v1/escalations", "sql": DEFAULT_SQL.format(n=50)},
        {"label": "API queue, filtered", "path": f"/api/v1/escalations{FILTERED}", "sql": BREACHED_SQL.format(n=50)},
        {"label": "page /escalations/", "path": "/escalations/", "sql": DEFAULT_SQL.format(n=25)},
        {"label": "page /escalations/, filtered", "path": f"/escalations/{FILTERED}", "sql": BREACHED_SQL.format(n=25)},
        {"label": "page long ticket", "path": f"/escalations/{number}/", "sql": TICKET_SQL, "ticket": number},
        {"label": "API long ticket", "path": f"/api/v1/escalations/{number}", "sql": TICKET_SQL, "ticket": number},
    ]  # fmt: skip


def query_counts(paths: list[str]) -> dict[str, dict]:
    """Per path, in this process through Django's test client signed in as the lead: queries and the slowest one."""
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    client = DjangoClient(HTTP_HOST="127.0.0.1")
    client.force_login(escseed.lead())
    out = {}
    for path in paths:
        client.get(path)  # warm
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise BenchFailed(f"test client GET {path} answered {response.status_code}")
        slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))
        out[path] = {"queries": len(captured), "slowest_ms": float(slowest["time"]) * 1000, "slowest": slowest["sql"]}
        out[path]["statements"] = [q["sql"] for q in captured.captured_queries]
    return out


def _ms(samples: list[float]) -> dict:
    return {"n": len(samples), "p50_ms": percentile(samples, 0.5) * 1000, "p95_ms": percentile(samples, 0.95) * 1000}


def _db_time(conn: psycopg.Connection, statements: list[str], *, repeat: int) -> list[float]:
    """The request's own statements (as the test client captured them), run one after another: its database time."""
    samples = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        for sql in statements:
            if sql.lstrip().upper().startswith("SELECT"):
                conn.execute(sql).fetchall()
        samples.append(time.perf_counter() - started)
    return samples[1:]


def time_requests(port: int, dsn: str, requests: list[dict], counts: dict, *, repeat: int) -> list[dict]:
    """Each request through gunicorn (WARM_UP untimed, then `repeat` timed), and its baseline statement the same way."""
    client = Client(port)
    client.sign_in(escseed.lead().username, "novaops-demo")
    ticket_id = None
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for request in requests:
            warm = [client.get(request["path"])[1] for _ in range(WARM_UP)]  # every gunicorn worker and thread
            ours = [client.get(request["path"])[1] for _ in range(repeat)]
            params = None
            if "ticket" in request:
                ticket_id = (
                    ticket_id
                    or conn.execute(
                        "SELECT id FROM escalations_escalation WHERE number = %s", [request["ticket"]]
                    ).fetchone()[0]
                )
                params = {"id": ticket_id}
            rows = len(conn.execute(request["sql"], params).fetchall())
            raw = []
            for _ in range(repeat):
                started = time.perf_counter()
                conn.execute(request["sql"], params).fetchall()
                raw.append(time.perf_counter() - started)
            out.append({"label": request["label"], "path": request["path"], "ours": _ms(ours), "raw": _ms(raw)})
            out[-1]["db"] = _ms(_db_time(conn, counts[request["path"]]["statements"], repeat=repeat))
            out[-1].update(
                {"raw_rows": rows, "warm_up_ms": [w * 1000 for w in warm], "ours_ms": [o * 1000 for o in ours]}
            )
    client.close()
    return out


def time_transitions(dsn: str, *, ops: int) -> dict:
    """`ops` acknowledges through the service (row lock, policy, state machine, trail) and `ops` bare UPDATEs of the
    state on other open tickets, one transaction each; seconds per op, and the queries of one service call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from escalations.models import Escalation
    from escalations.services.transitions import escalation_transition

    open_tickets = list(Escalation.objects.filter(state="open").order_by("-pk").values_list("pk", "number")[: 2 * ops])
    if len(open_tickets) < 2 * ops:
        raise BenchFailed(f"only {len(open_tickets)} open tickets for {ops} transitions and {ops} bare updates")
    actor, ours, raw = escseed.lead(), [], []
    with CaptureQueriesContext(connection) as captured:
        escalation_transition(number=open_tickets[0][1], name="acknowledge", actor=actor)
    for _, number in open_tickets[1:ops]:
        started = time.perf_counter()
        escalation_transition(number=number, name="acknowledge", actor=actor)
        ours.append(time.perf_counter() - started)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for pk, _ in open_tickets[ops:]:
            started = time.perf_counter()
            conn.execute("UPDATE escalations_escalation SET state = 'acknowledged' WHERE id = %s", [pk])
            raw.append(time.perf_counter() - started)
    return {"ours": _ms(ours), "raw": _ms(raw), "queries": len(captured)}


def time_sweep(dsn: str, *, count: int) -> dict:
    """The sweep over `count` overdue tickets (once: it acts once), and one plain UPDATE of the same rows' level
    (in a transaction rolled back, run first so the sweep meets the same rows)."""
    from django.db import connection

    from escalations.services.sla import sla_sweep

    ids = escseed.sweep_prepare(count=count)
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        conn.execute("UPDATE escalations_escalation SET level = level + 1 WHERE id = ANY(%s)", [ids])
        raw_seconds = time.perf_counter() - started
        conn.rollback()
    statements = [0]

    def counted(execute, sql, params, many, context):  # CaptureQueriesContext keeps only the last 9,000
        statements[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        started = time.perf_counter()
        acted = sla_sweep()
        seconds = time.perf_counter() - started
    return {
        "tickets": len(ids),
        "acted": len(acted),
        "seconds": seconds,
        "per_second": len(acted) / seconds,
        "raw_seconds": raw_seconds,
        "raw_per_second": len(ids) / raw_seconds,
        "queries": statements[0],
    }


def _prepare(stack: Stack) -> tuple[dict, str]:
    stack.postgres, stack.valkey = True, True
    dsn, redis_url = embedded.postgres_up(stack.root), embedded.valkey_up(stack.root)
    env = service_env(root=stack.root, dsn=dsn, redis_url=redis_url)
    env["SECURE_COOKIES"] = "false"
    python = str(BIN / "python")
    _log(f"private servers under {stack.root}; migrate, collectstatic, the demo organisation")
    _run_step([python, "manage.py", "migrate", "--no-input", "-v", "0"], env, "manage.py migrate")
    _run_step([python, "manage.py", "collectstatic", "--no-input", "-v", "0"], env, "manage.py collectstatic")
    _run_step([python, "-m", "bench.djangoside", "demo"], env, "seeding")
    _django_setup(env)
    return env, dsn


def _seed(args, dsn: str, figures: dict) -> int:
    # At N/10: the queue's requests, and the ticket's for the first ticket raised (a short timeline).
    early_paths = [r["path"] for r in requests_of(1)]
    checkpoint = max(1, args.tickets // 10)

    def at_checkpoint() -> None:
        figures["queries_at_checkpoint"] = {"tickets": checkpoint, "counts": query_counts(early_paths)}

    _log(f"raising {args.tickets:,} tickets through escalation_raise")
    started = time.perf_counter()
    figures["raise_seconds"] = escseed.raise_tickets(
        count=args.tickets, seed=args.seed, checkpoint=checkpoint, on_checkpoint=at_checkpoint
    )
    figures["states"] = escseed.spread(seed=args.seed)
    _log(f"states, breaches, comments: {figures['states']}; the long ticket")
    number = escseed.long_ticket(changes=200, comments=100)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    figures["setup_seconds"] = time.perf_counter() - started
    _log(f"setup took {figures['setup_seconds']:.0f} s (raising {figures['raise_seconds']:.0f} s)")
    return number


def _run(args, stack: Stack) -> dict:
    env, dsn = _prepare(stack)
    figures: dict = {
        "benchmark": "escalations",
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "tickets": args.tickets,
        "repeat": args.repeat,
    }
    number = figures["long_ticket"] = _seed(args, dsn, figures)
    requests = requests_of(number)
    figures["queries"] = query_counts([r["path"] for r in requests])
    port = _free_port()
    stack.start("gunicorn", launcher.web_command(bind=f"127.0.0.1:{port}", access_log=False), env)
    _wait_for(lambda: _http_ok(f"http://127.0.0.1:{port}/readyz"), what="gunicorn", stack=stack)
    _log("timing the requests")
    figures["loadavg"] = [os.getloadavg()[0]]
    figures["requests"] = time_requests(port, dsn, requests, figures["queries"], repeat=args.repeat)
    _log("timing the transitions")
    figures["transition"] = time_transitions(dsn, ops=args.ops)
    _log(f"the SLA sweep over {args.sweep} overdue tickets")
    figures["sweep"] = time_sweep(dsn, count=args.sweep)
    figures["loadavg"].append(os.getloadavg()[0])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench escalations", description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=5000, help="tickets raised through the service")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests each (after 5 untimed)")
    parser.add_argument("--sweep", type=int, default=1000, help="overdue tickets the SLA sweep acts on")
    parser.add_argument("--ops", type=int, default=100, help="transitions timed (and as many bare UPDATEs)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="leave the servers and data running")
    parser.add_argument("--json", type=Path, help="where to write the figures")
    args = parser.parse_args(argv)

    return stack_run("escalations", args, _run, escreport.report)
