"""NovaOps benchmarks, run with `make bench` (or `python -m bench <name> [options]`).

Each benchmark starts private embedded servers under a temporary directory, measures, prints a table of figures
with ratios against a baseline measured in the same run (docs/architecture.md, "Performance"), writes the figures
as JSON under bench/results/ and removes everything it started.
"""
