"""The printed table of the meetings benchmark (a pure function of its figures: no I/O)."""

from __future__ import annotations

HEADER = (
    f"{'request':<34} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'raw p50':>8} {'raw p95':>8} {'ours/raw':>9} "
    f"{'queries':>8} {'at 3':>5} {'bytes':>8} {'raw out':>8}"
)


def _request_lines(figures: dict) -> list[str]:
    early = figures.get("queries_at_3", {}).get("counts", {})
    lines = [HEADER, "-" * len(HEADER)]
    for row in figures["requests"]:
        ours = row["ours"]
        queries = figures["queries"][row["path"]]["queries"]
        before = early.get(row["path"], {}).get("queries", "-")
        raw = row.get("raw")
        if raw:
            ratio = f"{ours['p50_ms'] / raw['p50_ms']:>8.0f}×"
            baseline = f"{raw['p50_ms']:>8.2f} {raw['p95_ms']:>8.2f} {ratio}"
        else:
            baseline = f"{'-':>8} {'-':>8} {'-':>9}"
        out = row.get("raw_items", row.get("raw_bytes", "-"))
        lines.append(
            f"{row['label'][:34]:<34} {ours['n']:>4} {ours['p50_ms']:>8.1f} {ours['p95_ms']:>8.1f} {baseline} "
            f"{queries:>8} {before:>5} {row['bytes']:>8} {out:>8}"
        )
    return lines


def _agenda_lines(a: dict) -> list[str]:
    def line(label: str, key: str, queries: int | str) -> str:
        ours = a[key]
        return (
            f"{label:<34} {len(ours):>4} {_p(ours, 0.5):>8.1f} {_p(ours, 0.95):>8.1f} {_p(a['raw'], 0.5):>8.2f} "
            f"{_p(a['raw'], 0.95):>8.2f} {_p(ours, 0.5) / _p(a['raw'], 0.5):>8.1f}× {queries:>8}"
        )

    return [
        f"{'agenda (in-process)':<34} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'raw p50':>8} {'raw p95':>8} "
        f"{'ours/raw':>9} {'queries':>8}",
        line(f"first build ({a['items']} items, rolled back)", "first", a["first_queries"]),
        line("rebuild (same items, refreshed)", "rebuild", a["rebuild_queries"]),
    ]


def _p(samples: list[float], q: float) -> float:
    from bench.dashweb import percentile

    return percentile(samples, q) * 1000


def report(figures: dict) -> str:
    a = figures["agenda"]
    before, after = figures["loadavg"]
    at_3 = figures.get("queries_at_3", {}).get("series", "?")
    return "\n".join(
        [
            f"NovaOps meetings benchmark — the demo organisation with {figures['days']} days of demo metrics, the "
            f"charter's 3 series + {figures['series'] - at_3} weekly series ({figures['series']}); "
            f"{figures['machine']['cpus']} CPUs",
            f"setup {figures['setup_seconds']:.0f} s (the {figures['series'] - at_3} series through series_create "
            f"{figures['series_seconds']:.1f} s)",
            "ours = wall time of one GET through gunicorn (keep-alive loopback, signed in as the lead `core`), "
            f"{figures['repeat']} after 5 untimed; raw = calendar rows: every rule expanded over the same window "
            "with recurrence.starts in-process (raw out = starts found), feeds: the same series as an "
            "icalendar.Calendar built and serialised without Django (raw out = its bytes); queries = Django test "
            f"client in-process at {figures['series']} series and at 3",
            "",
            *_request_lines(figures),
            "",
            *_agenda_lines(a),
            f"agenda raw = dashboards.period_summary for the same key metrics, period ({a['period'][0][:16]} → "
            f"{a['period'][1][:16]} UTC) and divisions, called directly ({a['summary_rows']} rows)",
            f"machine load average (1 min) {before:.1f} before / {after:.1f} after the timings (other work skews)",
        ]
    )
