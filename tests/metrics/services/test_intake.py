"""samples_accept: what every protocol front door shares (discovery, caps, running totals, replays, agents)."""

from datetime import timedelta

import pytest

from metrics.models import CumulativeCursor, IngestBatch, Metric, Point, Series
from metrics.services.intake import samples_accept
from metrics.services.landing import batch_process
from metrics.sources.common import MetricInfo, Reason, Samples
from novaops.errors import Forbidden, InvalidInput, Unprocessable
from tests.factories import AgentFactory
from tests.metrics.services.bodies import BASE

BASE_US = int(BASE.timestamp() * 1_000_000)
SECOND = 1_000_000


def samples(*points, kind="gauge", cumulative=False, metrics=None) -> Samples:
    """points as (key, handle, seconds after BASE, value[, tags JSON[, start seconds]])."""
    result = Samples()
    for key, handle, seconds, value, *rest in points:
        tags = rest[0] if rest else ""
        start = BASE_US + rest[1] * SECOND if len(rest) > 1 else 0
        result.add(key, handle, BASE_US + seconds * SECOND, value, tags, cumulative=cumulative, start_us=start)
        result.metrics.setdefault(key, MetricInfo(name=key.replace("_", "."), kind=kind, unit="ms"))
    if metrics:
        result.metrics.update(metrics)
    return result


def accept(division, points: Samples, *, digest="d1", partial=True, source="otlp"):
    return samples_accept(division=division, token=None, samples=points, source=source, digest=digest, partial=partial)


def landed(intake) -> list[tuple[str, float]]:
    batch_process(batch_id=intake.batch.pk)
    rows = Point.objects.filter(series__in=Series.objects.all()).select_related("series__metric").order_by("ts")
    return [(point.series.metric.key, point.value) for point in rows]


def test_unknown_names_become_discovered_metrics_for_leads_to_review(division, agent):
    intake = accept(division, samples(("http_server_duration", "ta_00008", 0, 4.0)))

    metric = Metric.objects.get(key="http_server_duration")
    assert (metric.name, metric.unit, metric.kind, metric.better) == ("http.server.duration", "ms", "gauge", "neutral")
    assert (metric.discovered_from, metric.needs_review) == ("otlp", True)
    assert intake.rejections == []
    assert landed(intake) == [("http_server_duration", 4.0)]


def test_running_totals_are_stored_as_increments_and_a_restart_counts_from_zero(division, agent):
    first = accept(
        division, samples(("jobs_total", "ta_00008", 0, 5.0), ("jobs_total", "ta_00008", 10, 8.0), cumulative=True)
    )
    # The same counter later: one more total, then a restart (a lower total).
    second = accept(
        division,
        samples(("jobs_total", "ta_00008", 20, 12.0), ("jobs_total", "ta_00008", 30, 2.0), cumulative=True),
        digest="d2",
    )

    batch_process(batch_id=first.batch.pk)
    assert [v for _, v in landed(second)] == [5.0, 3.0, 4.0, 2.0]
    cursor = CumulativeCursor.objects.get()
    assert (cursor.value, cursor.ts) == (2.0, BASE + timedelta(seconds=30))


def test_a_later_start_time_is_a_restart_even_when_the_total_is_higher(division, agent):
    accept(division, samples(("jobs_total", "ta_00008", 0, 5.0, "", -60), cumulative=True))
    restarted = accept(division, samples(("jobs_total", "ta_00008", 10, 7.0, "", 5), cumulative=True), digest="d2")

    assert landed(restarted)[-1] == ("jobs_total", 7.0)


def test_totals_already_counted_are_dropped_so_a_resent_body_adds_nothing(division, agent):
    accept(division, samples(("jobs_total", "ta_00008", 0, 5.0), cumulative=True))
    # Another body (so not a replay by digest) carrying the same total again and one new one.
    again = accept(
        division,
        samples(("jobs_total", "ta_00008", 0, 5.0), ("jobs_total", "ta_00008", 10, 6.0), cumulative=True),
        digest="d2",
    )

    assert again.batch.point_count == 1
    only_old = accept(division, samples(("jobs_total", "ta_00008", 10, 6.0), cumulative=True), digest="d3")
    assert only_old.batch is None and only_old.rejections == []


def test_the_same_body_within_the_window_is_the_same_batch(division, agent):
    first = accept(division, samples(("jobs", "ta_00008", 0, 1.0)))
    again = accept(division, samples(("jobs", "ta_00008", 0, 1.0)))

    assert again.replayed and again.batch.pk == first.batch.pk
    assert IngestBatch.objects.count() == 1


def test_past_the_window_the_same_body_is_a_new_batch(division, agent, settings):
    accept(division, samples(("jobs", "ta_00008", 0, 1.0)))
    settings.METRICS_REPLAY_WINDOW_SECONDS = 0

    assert not accept(division, samples(("jobs", "ta_00008", 0, 1.0))).replayed
    assert IngestBatch.objects.count() == 2


def test_partial_stores_the_rest_and_names_unknown_and_foreign_agents(division, agent, cast):
    AgentFactory(handle="ta_00900", division=cast.other_division)
    points = samples(("jobs", "ta_00008", 0, 1.0), ("jobs", "ta_00900", 0, 2.0), ("jobs", "ta_09999", 0, 3.0))

    intake = accept(division, points)

    assert intake.batch.point_count == 1
    reasons = {r.reason: (r.count, r.message) for r in intake.rejections}
    assert reasons[Reason.UNKNOWN_AGENT] == (1, "Unknown agent(s): ta_09999.")
    assert "ta_00900" in reasons[Reason.FOREIGN_AGENT][1] and "NovaCore Runtime" in reasons[Reason.FOREIGN_AGENT][1]


@pytest.mark.parametrize(
    ("handle", "error"), [("ta_09999", InvalidInput), ("ta_00900", Forbidden)], ids=["unknown", "foreign"]
)
def test_all_or_nothing_refuses_the_whole_body(division, agent, cast, handle, error):
    AgentFactory(handle="ta_00900", division=cast.other_division)
    points = samples(("fresh_metric", "ta_00008", 0, 1.0), ("jobs", handle, 0, 2.0))

    with pytest.raises(error, match=handle):
        accept(division, points, partial=False)
    assert not IngestBatch.objects.exists()
    assert not Metric.objects.filter(key="fresh_metric").exists()


def test_the_cap_on_metric_names_refuses_new_names_past_it(division, agent, settings):
    settings.METRICS_DIVISION_MAX_METRICS = 1
    accept(division, samples(("first_metric", "ta_00008", 0, 1.0)))

    intake = accept(
        division, samples(("first_metric", "ta_00008", 10, 2.0), ("second_metric", None, 10, 3.0)), digest="2"
    )

    assert intake.batch.point_count == 1
    [rejection] = intake.rejections
    assert (rejection.reason, rejection.count) == (Reason.CAP, 1)
    assert "cap of 1 metric names" in rejection.message and "second_metric" in rejection.message
    assert not Metric.objects.filter(key="second_metric").exists()  # the catalogue is protected too


def test_the_cap_on_series_refuses_new_series_past_it(division, agent, settings):
    settings.METRICS_DIVISION_MAX_SERIES = 2
    points = samples(*((("jobs", "ta_00008", 0, float(n), f'{{"n": "{n}"}}')) for n in range(3)))

    intake = accept(division, points)

    assert Series.objects.filter(division=division).count() == 2
    [rejection] = intake.rejections
    assert rejection.count == 1 and "NovaCore Runtime is at its cap of 2 series." in rejection.message
    with pytest.raises(Unprocessable, match="cap of 2 series"):
        accept(division, samples(("jobs", "ta_00008", 0, 1.0, '{"n": "9"}')), digest="2", partial=False)


def test_decoder_rejections_are_returned_with_the_rest(division, agent):
    points = samples(("jobs", None, 0, 1.0))
    points.reject(Reason.INVALID, "NaN is not a value.", 2)

    intake = accept(division, points)

    assert intake.rejected == 2 and intake.batch.point_count == 1
    with pytest.raises(InvalidInput, match="NaN is not a value. Nothing was stored."):
        accept(division, points, digest="2", partial=False)
