"""Figures and the printed table of the dashboards benchmark (pure functions of the timings: no I/O)."""

from __future__ import annotations

import math
import statistics

from bench.dashweb import Timings, percentile

TARGET_P95_MS = 100.0
TARGET_VS_RAW = 20.0
TARGET_DOUBLING = 1.5
TARGET_LOAD_MS = 2000.0


def summarise(timings: Timings, raw_p50: dict[str, float | None]) -> dict[str, dict]:
    """Per request kind: p50/p95 over all its samples, the worst single URL's p95, and against the raw answer
    (`raw_p50[url]`, None when the URL has no raw mapping): the median raw p50 of its URLs and the smallest
    raw/ours ratio among them (the verdict's figure: every request must be that much faster)."""
    out: dict[str, dict] = {}
    for kind, samples in timings.by_kind.items():
        urls = sorted(url for url, k in timings.kind_of_url.items() if k == kind)
        per_url = {url: statistics.median(timings.by_url[url]) for url in urls}
        raws = {url: raw_p50.get(url) for url in urls}
        ratios = [raws[url] / per_url[url] for url in urls if raws[url] is not None]
        mapped = [raws[url] for url in urls if raws[url] is not None]
        out[kind] = {
            "n": len(samples),
            "urls": len(urls),
            "p50_ms": percentile(samples, 0.5) * 1000,
            "p95_ms": percentile(samples, 0.95) * 1000,
            "worst_url_p95_ms": max(percentile(timings.by_url[url], 0.95) for url in urls) * 1000,
            # Only when every URL of the kind has its raw answer; otherwise "n/a" (no invented number).
            "raw_p50_ms": statistics.median(mapped) * 1000 if mapped and len(mapped) == len(urls) else None,
            "ratio_vs_raw": min(ratios) if ratios and len(ratios) == len(urls) else None,
        }
    return out


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def _verdict_p95(p95: float) -> str:
    return "ok" if p95 <= TARGET_P95_MS else f"MISSED by {p95 - TARGET_P95_MS:.0f} ms"


def _verdict_raw(ratio: float | None, is_page: bool) -> str:
    if ratio is None:
        return "" if is_page else "n/a"
    return "ok" if ratio >= TARGET_VS_RAW else f"MISSED ({ratio:.1f}× < {TARGET_VS_RAW:.0f}×)"


HEADER = (
    f"{'page':<9} {'request':<50} {'range':>5} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'worst':>7} "
    f"{'raw p50':>9} {'raw/ours':>8}  verdict (p95 ≤ 100 ms; ≥ 20× raw)"
)


def table(phase: dict, ranges: list[str]) -> list[str]:
    """One line per page × request kind × range, in the order the pages were timed."""
    lines = [HEADER, "-" * len(HEADER)]
    for page, by_range in phase.items():
        kinds = list(dict.fromkeys(kind for r in ranges if r in by_range for kind in by_range[r]["kinds"]))
        for kind in kinds:
            for r in ranges:
                row = by_range.get(r, {}).get("kinds", {}).get(kind)
                if row is None:
                    continue
                is_page = kind == "page HTML"
                verdicts = [_verdict_p95(row["worst_url_p95_ms"]), _verdict_raw(row["ratio_vs_raw"], is_page)]
                lines.append(
                    f"{page:<9} {kind[:50]:<50} {r:>5} {row['n']:>5} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} "
                    f"{row['worst_url_p95_ms']:>7.1f} {_fmt(row['raw_p50_ms']):>9} "
                    f"{_fmt(row['ratio_vs_raw']):>8}  {'; '.join(v for v in verdicts if v)}"
                )
    return lines


DOUBLING_HEADER = (
    f"{'page':<9} {'request':<50} {'range':>5} {'p50 ms':>8} {'p95 ms':>8} {'raw p50':>9} {'raw/ours':>8} "
    f"{'p95 ×':>6} {'vs':>9}  verdict (≤ 1.5×)"
)


def doubling_table(before: dict, after: dict, ranges: list[str]) -> list[str]:
    """After doubling the points: each request kind and range against the same before (`p95 ×`), and the 28-day
    range against the 14-day one before (the answer's points doubled too)."""
    lines = [DOUBLING_HEADER, "-" * len(DOUBLING_HEADER)]
    for page, by_range in after.items():
        kinds = list(dict.fromkeys(kind for r in by_range for kind in by_range[r]["kinds"]))
        for kind in kinds:
            for r in ranges:
                row = by_range.get(r, {}).get("kinds", {}).get(kind)
                if row is None:
                    continue
                base_range = r if r in before.get(page, {}) else max(before.get(page, {}), key=_range_days, default=r)
                base = before.get(page, {}).get(base_range, {}).get("kinds", {}).get(kind)
                factor = row["p95_ms"] / base["p95_ms"] if base else None
                verdict = "n/a" if factor is None else "ok" if factor <= TARGET_DOUBLING else f"MISSED ({factor:.2f}×)"
                lines.append(
                    f"{page:<9} {kind[:50]:<50} {r:>5} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} "
                    f"{_fmt(row['raw_p50_ms']):>9} {_fmt(row['ratio_vs_raw']):>8} {_fmt(factor, '.2f'):>6} "
                    f"{base_range + ' before':>9}  {verdict}"
                )
    return lines


def _range_days(text: str) -> float:
    units = {"m": 1 / 1440, "h": 1 / 24, "d": 1, "w": 7}
    return float(text[:-1]) * units[text[-1]]


def report(figures: dict) -> str:
    w, first, ld = figures["workload"], figures["first"], figures["load"]
    lines = [
        f"NovaOps dashboards benchmark — {w['agents']} agents ({w['divisions']} divisions) × {len(w['metrics'])} "
        f"metrics × {w['days']} d at one point a minute = {ld['points']:,} points; {figures['repeat']} timed "
        f"requests each; {figures['machine']['cpus']} CPUs",
        f"load: {ld['points']:,} points in {ld['seconds']:.0f} s = {ld['points_per_second']:,.0f} points/s "
        f"(batch_accept + batch_process, {ld['loaders']} processes, {ld['batches']:.0f} batches)",
        f"figure cache: {figures['figure_cache']}",
        "server time = wall time of one GET over a keep-alive loopback connection; raw = the same aggregation over "
        f"metrics_point with psycopg, p50 of {_repeats(first)} runs after one untimed",
        "",
        *table(first["pages"], figures["ranges"]),
        "",
        _verified_line(first["raw_verified"]),
        _loadavg_line(first),
        *_browser_lines(first["browser"]),
    ]
    if "double" in figures:
        dl = figures["load_double"]
        lines += [
            "",
            f"after doubling to {2 * w['days']} d: {dl['points']:,} more points in {dl['seconds']:.0f} s = "
            f"{dl['points_per_second']:,.0f} points/s",
            "",
            *doubling_table(first["pages"], figures["double"]["pages"], figures["ranges_double"]),
            "",
            _verified_line(figures["double"]["raw_verified"]),
            _loadavg_line(figures["double"]),
            *_browser_lines(figures["double"]["browser"]),
        ]
    return "\n".join(lines)


def _repeats(phase_figures: dict) -> str:
    return ", ".join(f"{n} ({r})" for r, n in phase_figures["raw_repeats"].items()) or "no"


def _loadavg_line(phase: dict) -> str:
    before, after = phase.get("loadavg", (float("nan"), float("nan")))
    return f"machine load average (1 min) {before:.1f} before / {after:.1f} after the requests (other work skews)"


def _verified_line(verified: dict) -> str:
    different = verified["different"]
    line = (
        f"raw answers checked against metrics.selectors.series_aggregate (same range, width, grouping, aggregate): "
        f"{verified['same']} the same, {len(different)} different"
    )
    return line + "".join(f"\n  DIFFERENT {d}" for d in different[:5])


def _browser_lines(browsers: list[dict] | dict | None) -> list[str]:
    if browsers is None:
        return ["overview in headless Chromium: not run (--no-browser)"]
    if isinstance(browsers, dict):
        return [f"overview in headless Chromium: skipped: {browsers['skipped']}"]
    return [_browser_line(browser) for browser in browsers]


def _browser_line(browser: dict) -> str:
    load_ms = browser["load_event_ms_median"]
    target = TARGET_LOAD_MS
    verdict = "ok" if load_ms <= target else f"MISSED by {load_ms - target:.0f} ms"
    return (
        f"overview {browser['path']} in headless Chromium: load event {load_ms:.0f} ms (median of "
        f"{len(browser['load_event_ms'])}; target ≤ 2,000 ms: {verdict}); "
        + (
            f"last figure response at {browser['last_figure_ms_median']:.0f} ms"
            if browser["last_figure_ms_median"]
            else "the page fetched no figures"
        )
    )
