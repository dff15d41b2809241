"""The printed table of the escalations benchmark (a pure function of its figures: no I/O)."""

from __future__ import annotations

HEADER = (
    f"{'request':<52} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'raw p50':>8} {'raw p95':>8} {'ours/raw':>9} "
    f"{'queries':>8} {'at N/10':>8} {'db p50':>7}"
)


def _request_lines(figures: dict) -> list[str]:
    early = {
        path.replace("/escalations/1/", "/escalations/<n>/").replace("/escalations/1", "/escalations/<n>"): row
        for path, row in figures.get("queries_at_checkpoint", {}).get("counts", {}).items()
    }
    number = str(figures["long_ticket"])
    lines = [HEADER, "-" * len(HEADER)]
    for row in figures["requests"]:
        counts = figures["queries"][row["path"]]
        generic = row["path"].replace(f"/escalations/{number}", "/escalations/<n>")
        before = early.get(generic, {}).get("queries")
        ours, raw = row["ours"], row["raw"]
        lines.append(
            f"{row['label'][:52]:<52} {ours['n']:>4} {ours['p50_ms']:>8.1f} {ours['p95_ms']:>8.1f} "
            f"{raw['p50_ms']:>8.2f} {raw['p95_ms']:>8.2f} {ours['p50_ms'] / raw['p50_ms']:>8.0f}× "
            f"{counts['queries']:>8} {before if before is not None else '-':>8} {row['db']['p50_ms']:>7.1f}"
        )
    return lines


def _sweep_line(s: dict) -> str:
    per_ticket = s["queries"] / max(s["acted"], 1)
    return (
        f"SLA sweep: {s['acted']:,} breaches acted on ({s['tickets']:,} tickets made overdue) in "
        f"{s['seconds']:.2f} s = {s['per_second']:,.0f} tickets/s, {s['queries']:,} queries ({per_ticket:.1f} a "
        f"ticket); one plain UPDATE of their level {s['raw_seconds'] * 1000:.1f} ms = {s['raw_per_second']:,.0f} "
        f"tickets/s; ours/raw {s['raw_per_second'] / s['per_second']:,.0f}× slower"
    )


def report(figures: dict) -> str:
    states = dict(figures["states"])
    comments = states.pop("comments")
    t, s = figures["transition"], figures["sweep"]
    checkpoint = figures.get("queries_at_checkpoint", {}).get("tickets", "?")
    before, after = figures["loadavg"]
    return "\n".join(
        [
            f"NovaOps escalations benchmark — {figures['tickets']:,} tickets raised through escalation_raise "
            f"({', '.join(f'{k} {v}' for k, v in states.items())}; {comments:,} comments) + 1 ticket with 200 "
            f"edits and 100 comments; {figures['machine']['cpus']} CPUs",
            f"setup {figures['setup_seconds']:.0f} s (raising {figures['raise_seconds']:.0f} s = "
            f"{figures['tickets'] / figures['raise_seconds']:.0f} tickets/s)",
            "ours = wall time of one GET through gunicorn (keep-alive loopback, signed in as the lead `core`), "
            f"{figures['repeat']} after 5 untimed; raw = the same page's rows (queue) or the ticket's event rows "
            "and comments, one SQL statement with psycopg; queries = Django test client in-process, at N and at "
            f"N/10 ({checkpoint} tickets; for the ticket rows: ESC-1, a ticket with a short timeline); db p50 = the "
            "request's own SELECTs as captured, run back to back with psycopg (its database time)",
            "",
            *_request_lines(figures),
            "",
            f"{'operation':<52} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'raw p50':>8} {'raw p95':>8} {'ours/raw':>9} "
            f"{'queries':>8}",
            f"{'acknowledge (escalation_transition, row lock)':<52} {t['ours']['n']:>4} {t['ours']['p50_ms']:>8.2f} "
            f"{t['ours']['p95_ms']:>8.2f} {t['raw']['p50_ms']:>8.2f} {t['raw']['p95_ms']:>8.2f} "
            f"{t['ours']['p50_ms'] / t['raw']['p50_ms']:>8.1f}× {t['queries']:>8}",
            "",
            _sweep_line(s),
            f"machine load average (1 min) {before:.1f} before / {after:.1f} after the timings (other work skews)",
        ]
    )
