import http.client
import json
import time
import urllib.parse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from agents.models import Agent, Division, DivisionToken
from agents.services.tokens import division_token_create
from metrics.demo import live_points

TOKEN_NAME = "demo-simulator"


class Command(BaseCommand):
    help = "Post live DEMO points for every division every few seconds through the HTTP API, with real tokens."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the running web server")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between rounds")
        parser.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (0: run until killed)")
        parser.add_argument("--force", action="store_true", help="Run with DEBUG off (not for production).")

    def handle(self, *args, url: str, interval: float, rounds: int, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to post DEMO metrics with DEBUG off; pass --force for a demo install.")
        target = urllib.parse.urlsplit(url)
        divisions = []
        for division in Division.objects.order_by("pk"):
            # Secrets are shown once, so the simulator mints a fresh token per start and drops its old one.
            DivisionToken.objects.filter(division=division, name=TOKEN_NAME).delete()
            _, secret = division_token_create(division=division, name=TOKEN_NAME)
            # Degraded agents post too: their points are how the liveness monitor sees them recover.
            live = [Agent.Lifecycle.ACTIVE, Agent.Lifecycle.DEGRADED]
            handles = list(
                Agent.objects.filter(division=division, lifecycle_state__in=live)
                .order_by("handle")
                .values_list("handle", flat=True)
            )
            divisions.append((division.slug, handles, secret))
        self._wait_for(target)
        self.stdout.write(f"Simulating {len(divisions)} divisions every {interval:g} s against {url}")
        done = 0
        while not rounds or done < rounds:
            started = time.monotonic()
            accepted = 0
            for slug, handles, secret in divisions:
                body = json.dumps({"points": live_points(division_slug=slug, handles=handles, moment=timezone.now())})
                status = self._post(target, secret, body.encode())
                accepted += status == 202
            done += 1
            self.stdout.write(f"round {done}: {accepted}/{len(divisions)} batches accepted")
            time.sleep(max(0.0, interval - (time.monotonic() - started)))

    def _wait_for(self, target: urllib.parse.SplitResult, timeout: float = 120.0) -> None:
        """The web server starts alongside us; give it time before the first round."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            connection = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=2)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                connection.close()
            time.sleep(0.5)

    def _post(self, target: urllib.parse.SplitResult, secret: str, body: bytes) -> int:
        connection = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=15)
        try:
            connection.request(
                "POST",
                "/api/v1/metrics/batches",
                body=body,
                headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
            if response.status != 202:
                self.stderr.write(f"POST answered {response.status}")
            return response.status
        except OSError as exc:
            self.stderr.write(f"POST failed: {exc}")
            return 0
        finally:
            connection.close()
