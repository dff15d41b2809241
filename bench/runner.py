"""What every benchmark that starts its own servers does around its measurements: a private Stack under a temporary
directory, stopped on Ctrl-C or SIGTERM, the servers' last log lines when it fails, the report printed and the figures
written as JSON under bench/results/ (or --json)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.ingest import RESULTS_DIR, BenchFailed, Stack


def stack_run(
    name: str,
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace, Stack], dict[str, Any]],
    report: Callable[[dict[str, Any]], str],
    *,
    kept: str = "",
) -> int:
    """Run `run(args, stack)` on a fresh Stack and print `report(figures)`; the exit status of the command.
    `args.keep` leaves the servers running (`kept` adds to the message), `args.json` names the figures' file."""

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    stack = Stack(Path(tempfile.mkdtemp(prefix=f"novaops-{name[:4]}-")))
    try:
        figures = run(args, stack)
    except KeyboardInterrupt:
        print("\nInterrupted; everything this run started has been stopped and removed.", file=sys.stderr)
        return 130
    except BenchFailed as exc:
        for process in stack.processes:
            print(f"--- last lines of {process}'s log ---\n{stack.tail(process)}", file=sys.stderr)
        print(f"\n{name.capitalize()} benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"\n--keep: servers left running under {stack.root}{kept}")
        else:
            stack.close()
    print()
    print(report(figures))
    out = args.json or RESULTS_DIR / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"\nFigures written to {out}")
    return 0
