"""Prometheus for the remote-write tests: bodies as Prometheus builds them, and a real Prometheus server (Debian's
`prometheus` package) that scrapes an exporter of the test's and remote-writes to NovaOps.

Plain code, like tests/helpers/processes.py: the server listens on a free port of 127.0.0.1, keeps its TSDB and log
in the test's directory, and is stopped with its process group.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cramjam
from prometheus_client.parser import text_string_to_metric_families

from metrics.sources.prompb import Label, MetricMetadata, Sample, TimeSeries, WriteRequest
from tests.helpers.processes import REQUEST_TIMEOUT, free_port, stop_group, tail, wait_until

PROMETHEUS = Path("/usr/bin/prometheus")
# The headers Prometheus sends with every remote write 1.0 request.
REMOTE_WRITE_HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}

Series = tuple[dict[str, str], Iterable[tuple[float, int]]]  # (labels, [(value, timestamp in ms), …])


def write_request(*series: Series, metadata: Iterable[tuple[str, int, str, str]] = ()) -> bytes:
    """A serialized WriteRequest of these series; metadata as (family name, MetricType number, help, unit)."""
    return WriteRequest(
        timeseries=[
            TimeSeries(
                labels=[Label(name=name, value=value) for name, value in sorted(labels.items())],
                samples=[Sample(value=value, timestamp=ts_ms) for value, ts_ms in samples],
            )
            for labels, samples in series
        ],
        metadata=[
            MetricMetadata(type=kind, metric_family_name=name, help=text, unit=unit)
            for name, kind, text, unit in metadata
        ],
    ).SerializeToString()


def snappy(body: bytes) -> bytes:
    """The snappy block format, as Prometheus compresses a request."""
    return bytes(cramjam.snappy.compress_raw(body))


@dataclass
class PrometheusServer:
    process: subprocess.Popen
    port: int
    log: Path

    def get(self, path: str, **params: str) -> bytes:
        url = f"http://127.0.0.1:{self.port}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as response:
            return response.read()

    def own_metrics(self) -> dict[str, float]:
        """Its own /metrics, as {sample name: value} summed over label sets (one remote-write queue here)."""
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(self.get("/metrics").decode()):
            for sample in family.samples:
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
        return values

    def raw_samples(self, selector: str, *, at: float) -> dict[int, float]:
        """Every sample of the one series `selector` picks in the hour before `at`: {timestamp in ms: value}."""
        reply = json.loads(self.get("/api/v1/query", query=f"{selector}[1h]", time=f"{at:.3f}"))
        [series] = reply["data"]["result"]
        return {round(float(ts) * 1000): float(value) for ts, value in series["values"]}


def prometheus_start(*, root: Path, target: str, remote_write_url: str, token: str) -> PrometheusServer:
    """Prometheus scraping `target` (host:port) every second and remote-writing everything to `remote_write_url`
    with the division token, retrying quickly (backoff at most 1 s), ready once /-/ready answers."""
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "exporter", "static_configs": [{"targets": [target]}]}],
        "remote_write": [
            {
                "url": remote_write_url,
                "authorization": {"type": "Bearer", "credentials": token},
                "remote_timeout": "5s",
                "queue_config": {
                    "batch_send_deadline": "200ms",
                    "max_samples_per_send": 50,
                    "min_backoff": "50ms",
                    "max_backoff": "1s",
                },
                "metadata_config": {"send": True, "send_interval": "2s"},
            }
        ],
    }
    config_file = root / "prometheus.yml"
    config_file.write_text(json.dumps(config, indent=2))  # JSON is YAML
    log = root / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=debug",
            ],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = PrometheusServer(process, port, log)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited with {process.returncode}:\n{tail(log)}")
        try:
            return server.get("/-/ready") is not None
        except OSError:
            return False

    try:
        wait_until(ready, timeout=30, what="prometheus to be ready", interval=0.2)
    except BaseException:
        stop_group(process, grace=10)
        raise
    return server
