"""NovaOps benchmarks, run with `make bench` (or `python -m bench <name> [options]`).

Each benchmark starts private embedded servers under a temporary directory, measures, prints a table of figures
with ratios against a baseline measured in the same run (DESIGN.md §5), writes the figures as JSON under
bench/results/ and removes everything it started.
"""
