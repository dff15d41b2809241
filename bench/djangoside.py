"""The Django-side steps of the ingest benchmark, run in a subprocess against the benchmark's private database.

`python -m bench.djangoside seed --agents N` creates a domain, a division with N agents and a division token,
and prints {"division_id", "token", "handles"} as JSON on the last line of stdout.

`python -m bench.djangoside demo` seeds the demo organisation (the one `make run` shows: eight divisions, 166
agents), mints a token per division and prints [{"division", "token", "handles"}] (active agents) as JSON on the last
line of stdout.

`python -m bench.djangoside naive --rows FILE` measures the naive DRF path the design rules out
(docs/architecture.md, "Pitfalls"): a `ModelSerializer(many=True)` over a small model with the point's fields and
`unique_together = (series, ts)`, whose implicit UniqueTogetherValidator runs one SELECT per point before `save()`
runs one INSERT per point. FILE holds a JSON body `[{"series", "ts", "value"}, …]`. Prints the timings as JSON on
the last line of stdout.

All need DATABASE_URL (and the rest of the environment) set by bench.ingest; neither touches var/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novaops.settings")


def seed(*, agents: int, first_handle: int) -> dict:
    from django.db import transaction

    from agents.models import Agent, Division, Domain
    from agents.services.tokens import division_token_create

    with transaction.atomic():
        domain = Domain.objects.create(slug="bench", name="Bench")
        division = Division.objects.create(domain=domain, slug="bench-ingest", name="Bench Ingest")
        handles = [f"ta_{first_handle + i:05d}" for i in range(agents)]
        Agent.objects.bulk_create(
            [Agent(handle=handle, callsign=f"Bench {i}", division=division) for i, handle in enumerate(handles)]
        )
        _, secret = division_token_create(division=division, name="bench collector")
    return {"division_id": division.pk, "token": secret, "handles": handles}


def demo() -> list[dict]:
    from agents.demo import demo_organisation_seed
    from agents.models import Agent, Division
    from agents.services.tokens import division_token_create

    demo_organisation_seed()
    divisions = []
    for division in Division.objects.order_by("slug"):
        _, secret = division_token_create(division=division, name="bench soak")
        active = Agent.objects.filter(division=division, lifecycle_state=Agent.Lifecycle.ACTIVE).order_by("handle")
        divisions.append(
            {"division": division.slug, "token": secret, "handles": list(active.values_list("handle", flat=True))}
        )
    return divisions


def _naive_model():
    from django.db import models

    class NaivePoint(models.Model):
        """The point's fields on an ordinary model, made unique the way a naive design would: unique_together."""

        series = models.BigIntegerField()
        ts = models.DateTimeField()
        value = models.FloatField()

        class Meta:
            app_label = "bench"
            db_table = "bench_naive_point"
            unique_together = [("series", "ts")]

        def __str__(self) -> str:
            return f"{self.series}@{self.ts}"

    return NaivePoint


def naive(*, rows_file: str) -> dict:
    from django.db import connection, transaction
    from rest_framework import serializers

    naive_model = _naive_model()

    class NaivePointSerializer(serializers.ModelSerializer):
        class Meta:
            model = naive_model
            fields = ["series", "ts", "value"]

    with connection.schema_editor() as editor:
        editor.create_model(naive_model)
    with open(rows_file, "rb") as handle:
        body = handle.read()
    table = naive_model._meta.db_table
    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    def run(*, atomic: bool) -> dict:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table}")
        statements[0] = 0
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            data = json.loads(body)  # what DRF's JSONParser does with the request body
            serializer = NaivePointSerializer(data=data, many=True)
            with transaction.atomic() if atomic else contextlib.nullcontext():
                serializer.is_valid(raise_exception=True)
                validated = time.perf_counter()
                serializer.save()
            finished = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            stored = cursor.fetchone()[0]
        points = len(data)
        if stored != points:
            raise RuntimeError(f"The naive DRF path stored {stored} of {points} points.")
        return {
            "points": points,
            "seconds": finished - started,
            "validate_seconds": validated - started,
            "save_seconds": finished - validated,
            "points_per_second": points / (finished - started),
            "statements": statements[0],
        }

    validators = [type(v).__name__ for v in NaivePointSerializer().get_validators()]
    # A DRF view as written runs in autocommit (the project does not set ATOMIC_REQUESTS): one commit per INSERT.
    autocommit = run(atomic=False)
    # The same in one transaction, to show the per-point SELECT + INSERT, not the commits, is what costs.
    single_transaction = run(atomic=True)
    with connection.schema_editor() as editor:
        editor.delete_model(naive_model)
    return {"validators": validators, "autocommit": autocommit, "atomic": single_transaction}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.djangoside")
    sub = parser.add_subparsers(dest="step", required=True)
    seed_parser = sub.add_parser("seed")
    seed_parser.add_argument("--agents", type=int, default=200)
    seed_parser.add_argument("--first-handle", type=int, default=20000)
    sub.add_parser("demo")
    naive_parser = sub.add_parser("naive")
    naive_parser.add_argument("--rows", required=True)
    args = parser.parse_args(argv)

    import django

    django.setup()
    if args.step == "seed":
        result = seed(agents=args.agents, first_handle=args.first_handle)
    elif args.step == "demo":
        result = demo()
    else:
        result = naive(rows_file=args.rows)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
