"""The Pushgateway source: the grouping path, and the text format (as prometheus_client writes it) as samples."""

import json

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest

from metrics.sources.pushgateway import Grouping, grouping_parse, push_decode
from novaops.errors import InvalidInput

TS = 1_796_000_000_000_000
GROUP = Grouping(job="nightly", labels={"instance": "a/b"})


def _rows(body: bytes, grouping: Grouping = GROUP) -> list[tuple]:
    """(key, agent, value, tags as a dict, cumulative, family) of each decoded point."""
    push = push_decode(body, grouping=grouping, ts_us=TS)
    samples = push.samples
    assert samples.ts_us == [TS] * len(samples)
    columns = (samples.keys, samples.handles, samples.values, samples.tags, samples.cumulative, push.families)
    return [(k, h, v, json.loads(t) if t else {}, c, f) for k, h, v, t, c, f in zip(*columns, strict=True)]


def _refused(body: bytes, message: str, grouping: Grouping = GROUP) -> None:
    with pytest.raises(InvalidInput) as refused:
        push_decode(body, grouping=grouping, ts_us=TS)
    assert refused.value.message == message


# --- the grouping path ---


def test_grouping_path_as_prometheus_client_builds_it():
    assert grouping_parse("job/nightly") == Grouping(job="nightly", labels={})
    # base64url for values with a slash, `=` for an empty value, as prometheus_client's _escape_grouping_key does
    assert grouping_parse("job@base64/bmlnaHRseS9ldQ==/instance@base64/YS9i/zone@base64/=/agent/ta_00008") == Grouping(
        job="nightly/eu", labels={"instance": "a/b", "zone": "", "agent": "ta_00008"}
    )
    assert grouping_parse("job/nightly/agent/ta_00008").agent == "ta_00008"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("job/nightly/instance", "The grouping path must be job/<job> followed by /<label>/<value> pairs."),
        ("job@base64/=", "The job name must not be empty."),
        ("job/nightly/zone@base64/!!", "The value of grouping label 'zone' is not base64url-encoded UTF-8."),
        ("job/nightly/zone/a/zone/b", "Grouping label 'zone' appears twice in the path."),
        ("job/nightly/job/other", "Grouping label 'job' appears twice in the path."),
        (
            "job/nightly/1zone/a",
            "Grouping label name '1zone' must be letters, digits and _, not starting with a digit.",
        ),
        ("job/nightly/zone/" + "z" * 201, "Grouping labels: Tag 'zone' is longer than 200 characters."),
    ],
)
def test_bad_grouping_paths_are_refused(path, message):
    with pytest.raises(InvalidInput) as refused:
        grouping_parse(path)
    assert refused.value.message == message


# --- the text format ---


def test_prometheus_client_metrics_become_counters_gauges_and_percentiles():
    registry = CollectorRegistry()
    Counter("jobs_done", "Jobs finished.", ["kind"], registry=registry).labels("import").inc(3)
    Gauge("last_success_unixtime", "Last success.", registry=registry).set(1_796_000_000)
    duration = Histogram("run_seconds", "Run time.", buckets=(0.1, 1, 10), registry=registry)
    for seconds in (0.05, 0.5, 0.7, 5):
        duration.observe(seconds)
    Summary("rows", "Rows per run.", registry=registry).observe(20)
    tags = {"job": "nightly", "instance": "a/b"}

    rows = _rows(generate_latest(registry))

    # No `_created` series, no raw buckets; running totals marked cumulative.
    assert rows == [
        ("jobs_done_total", None, 3.0, {**tags, "kind": "import"}, True, "jobs_done"),
        ("last_success_unixtime", None, 1_796_000_000.0, tags, False, "last_success_unixtime"),
        ("run_seconds_count", None, 4.0, tags, True, "run_seconds"),
        ("run_seconds_sum", None, 6.25, tags, True, "run_seconds"),
        ("run_seconds_p50", None, pytest.approx(0.55), tags, False, "run_seconds"),
        ("run_seconds_p95", None, pytest.approx(8.2), tags, False, "run_seconds"),
        ("run_seconds_p99", None, pytest.approx(9.64), tags, False, "run_seconds"),
        ("rows_count", None, 1.0, tags, True, "rows"),
        ("rows_sum", None, 20.0, tags, True, "rows"),
    ]
    metrics = push_decode(generate_latest(registry), grouping=GROUP, ts_us=TS).samples.metrics
    assert (metrics["jobs_done_total"].kind, metrics["jobs_done_total"].description) == ("counter", "Jobs finished.")
    assert metrics["run_seconds_p95"].kind == "gauge"


def test_summary_quantiles_are_percentile_gauges_and_an_empty_window_is_skipped():
    body = b"""# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} NaN
rpc_seconds{quantile="0.9"} 0.2
rpc_seconds{quantile="0.999"} 0.9
rpc_seconds_sum 12
rpc_seconds_count 40
"""
    assert [(key, value) for key, _, value, *_ in _rows(body)] == [
        ("rpc_seconds_p90", 0.2),
        ("rpc_seconds_p99_9", 0.9),
        ("rpc_seconds_sum", 12.0),
        ("rpc_seconds_count", 40.0),
    ]


def test_the_agent_label_names_the_agent_and_empty_labels_are_no_labels():
    body = b'untyped_thing{agent="ta_00009",zone=""} 1\nqueue_depth{instance="a/b"} 4\n'
    assert _rows(body) == [
        ("untyped_thing", "ta_00009", 1.0, {"job": "nightly", "instance": "a/b"}, False, "untyped_thing"),
        ("queue_depth", None, 4.0, {"job": "nightly", "instance": "a/b"}, False, "queue_depth"),
    ]
    by_group = _rows(b"queue_depth 4\n", Grouping(job="nightly", labels={"agent": "ta_00008", "zone": ""}))
    assert by_group == [("queue_depth", "ta_00008", 4.0, {"job": "nightly"}, False, "queue_depth")]


def test_names_become_catalogue_keys():
    rows = _rows(b"# TYPE HTTP:Requests counter\nHTTP:Requests 7\n")
    assert [(key, family) for key, *_, family in rows] == [("http_requests_total", "HTTP:Requests")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"queue_depth NaN\n", "queue_depth is nan: NovaOps stores finite values only. Nothing was stored."),
        (
            b'# TYPE jobs counter\njobs_total{kind="a"} +Inf\n',
            'jobs_total{kind="a"} is inf: NovaOps stores finite values only. Nothing was stored.',
        ),
        (
            b'queue_depth{instance="c/d"} 1\n',
            "queue_depth{instance=\"c/d\"}: label instance='c/d' contradicts the grouping label instance='a/b'. "
            "Nothing was stored.",
        ),
        (
            b"queue_depth 1 1796000000000\n",
            "queue_depth has a timestamp; pushed samples take the time of the push. Nothing was stored.",
        ),
        (
            b"queue_depth one\n",
            "Not the Prometheus text format: could not convert string to float: 'one'. Nothing was stored.",
        ),  # fmt: skip
        (b"queue_depth \xff\n", "The body is not UTF-8 text. Nothing was stored."),
        (
            b"queue_depth 1\nqueue_depth 2\n",
            "Metric 'queue_depth' has the same labels twice (queue_depth). Nothing was stored.",
        ),  # fmt: skip
        (
            b"m" * 64 + b" 1\n",
            f"Metric name {'m' * 64!r} cannot be a NovaOps metric key (at most 63 characters). Nothing was stored.",
        ),
        (
            b'# TYPE h histogram\nh_bucket{le="1"} 2\nh_count 2\nh_sum 1\n',
            "Histogram 'h' has no le=\"+Inf\" bucket. Nothing was stored.",
        ),
        (
            b'# TYPE h histogram\nh_bucket{le="-Inf"} 0\nh_bucket{le="+Inf"} 1\n',
            'h_bucket{le="-Inf"}: le is a number or +Inf. Nothing was stored.',
        ),
        (
            b'# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\n',
            "Histogram 'h': a bucket counts fewer than the one below it. Nothing was stored.",
        ),
        (
            b'# TYPE s summary\ns{quantile="2"} 1\n',
            's{quantile="2"}: a quantile is between 0 and 1. Nothing was stored.',
        ),
    ],
)
def test_bad_samples_refuse_the_whole_push(body, message):
    _refused(body, message)


def test_a_label_set_over_the_tag_limit_is_refused():
    labels = ",".join(f'l{i}="v"' for i in range(15))  # with job and instance: 17 tags
    with pytest.raises(InvalidInput) as refused:
        push_decode(f"queue_depth{{{labels}}} 1\n".encode(), grouping=GROUP, ts_us=TS)
    assert refused.value.message.endswith(": 17 labels besides the agent; at most 16. Nothing was stored.")
