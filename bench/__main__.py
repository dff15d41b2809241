"""`python -m bench [ingest|soak|dashboards|escalations|meetings|scale] [options]`: dispatch to a benchmark (default
`ingest`)."""

from __future__ import annotations

import sys

BENCHMARKS = ("ingest", "soak", "dashboards", "escalations", "meetings", "scale")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = argv.pop(0) if argv and not argv[0].startswith("-") else "ingest"
    if name not in BENCHMARKS:
        print(f"Unknown benchmark {name!r}; choose from: {', '.join(BENCHMARKS)}.", file=sys.stderr)
        return 2
    if name == "dashboards":
        from bench import dashboards

        return dashboards.main(argv)
    if name == "escalations":
        from bench import escalations

        return escalations.main(argv)
    if name == "meetings":
        from bench import meetings

        return meetings.main(argv)
    if name == "scale":
        from bench import scale

        return scale.main(argv)
    if name == "soak":
        from bench import soak

        return soak.main(argv)
    from bench import ingest

    return ingest.main(argv)


if __name__ == "__main__":
    sys.exit(main())
