"""The table `python -m bench scale` prints (bench/scale.py), from the figures it also writes as JSON."""

from __future__ import annotations


def _cores(run: dict, *names: str) -> float:
    """CPUs the named hosts kept busy on average during the run."""
    return sum(run["cpu_seconds"].get(name, 0.0) for name in names) / run["seconds"]


def _bottleneck(run: dict, cpus: int, workers: list[str]) -> str:
    """Where the run's CPU went: the busiest host, and how much of the busy machine was the simulation's."""
    hosts = {name: _cores(run, name) for name in ("db", "web", "replica", "redis", "client")}
    hosts["workers"] = _cores(run, *workers)
    busiest = max(hosts, key=hosts.get)
    ours, machine = sum(hosts.values()), run["machine_busy"] * cpus
    return (
        f"{run['workers']} worker(s): busiest host {busiest} ({hosts[busiest]:.2f} cores); the simulation used "
        f"{ours:.2f} of the {machine:.2f} cores busy on the machine (the rest: other work on it)"
    )


def report(figures: dict) -> str:
    setup, runs, cut, replica = figures["setup"], figures["runs"], figures["cut"], figures["replica"]
    one = next((r["points_per_second"] for r in runs if r["workers"] == 1), None)
    workers_of = {r["workers"]: [f"w{n}" for n in range(1, r["workers"] + 1)] for r in [*runs, cut]}
    lines = [
        f"NovaOps scale-out simulation — {setup['points']:,} points ({setup['series']:,} series) in "
        f"{setup['batches']} batches of {setup['batch_size']:,}, {setup['clients']} HTTP clients; each worker host "
        f"capped at {setup['worker_cpu_quota']} CPU, celery --concurrency {setup['worker_concurrency']}; "
        f"{figures['machine']['cpus']} CPUs shared by every host",
        "",
        f"{'workers':>7} {'points':>10} {'seconds':>8} {'points/s':>10} {'× 1 worker':>10}   "
        f"{'cores busy: db':>14} {'web':>5} {'workers':>7} {'replica':>7} {'client':>6} {'machine':>7}  replica lag",
        "-" * 119,
    ]
    for run in [*runs, cut]:
        label = f"{run['workers']}{' cut' if run is cut else ''}"
        lines.append(
            f"{label:>7} {run['points']:>10,} {run['seconds']:>8.1f} {run['points_per_second']:>10,.0f} "
            f"{format(run['points_per_second'] / one, '.2f') if one else '—':>10}   "
            f"{_cores(run, 'db'):>14.2f} {_cores(run, 'web'):>5.2f} "
            f"{_cores(run, *workers_of[run['workers']]):>7.2f} {_cores(run, 'replica'):>7.2f} "
            f"{_cores(run, 'client'):>6.2f} "
            f"{run['machine_busy'] * figures['machine']['cpus']:>7.2f}  {run['replica_max_lag_seconds']:.1f} s"
        )
    c = cut["cut"]
    released = c["released_after_seconds"]
    lines += ["-" * 119, *(_bottleneck(run, figures["machine"]["cpus"], workers_of[run["workers"]]) for run in runs)]
    lines += [
        "-" * 119,
        f"cut: {c['host']}'s veth down while it held sessions {c['held_sessions']}; the server ended them "
        f"{'never' if released is None else format(released, '.1f') + ' s'} after the cut, by {c['ended_by']}",
        f"     every accepted point stored exactly once: {cut['verified']['points']:,} points = distinct posted, "
        f"rollup counts {cut['verified']['rollup_counts']}; batch attempts {cut['batch_attempts']}",
        f"     and still after {c['host']} came back: {c['verified_after_host_returned']['points']:,} points",
        f"replica: caught up {replica['caught_up_after_seconds']:.1f} s after the last batch (WAL "
        f"{replica['wal_position']}); series API from the web started with DATABASE_REPLICA_URL vs a web on the "
        f"primary: {'identical' if replica['identical'] else 'DIFFERENT'} ({replica['bytes']:,} bytes, "
        f"{replica['series']} series)",
        f"         web sessions on the replica: {replica['web_sessions_on_replica']}"
        + (
            ""
            if replica["web_sessions_on_replica"]
            else " (no database router in this tree: both answers came from the primary)"
        ),
        "cores busy = CPU seconds of each host's cgroup (client: this process) / run seconds; machine = every process "
        "on the machine, other work included",
    ]
    return "\n".join(lines)
