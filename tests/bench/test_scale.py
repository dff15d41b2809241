"""The scale simulation's pure parts: host names that fit the kernel's limits, the command that runs on a host, why
the server ended a session, and the table. The simulation itself runs as root with `python -m bench scale`, never
here."""

from pathlib import Path

from bench import scale, scale_net
from bench.scale_report import report
from bench.scale_servers import worker_host


def test_every_interface_name_fits_the_kernel_limit():
    hosts = [scale.DB, scale.REPLICA, scale.REDIS, scale.WEB, *(worker_host(n, 0.5) for n in range(1, 5))]
    assert all(len(host.veth) <= 15 for host in hosts)  # IFNAMSIZ - 1
    assert len({host.address for host in hosts}) == len(hosts)
    assert all(host.address.startswith(scale_net.SUBNET + ".") for host in hosts)


def test_a_capped_host_joins_both_hierarchies_an_uncapped_one_only_the_accounting():
    sandbox = scale_net.Sandbox()
    capped = sandbox.wrap(worker_host(1, 0.5), ["celery", "worker"])
    free = sandbox.wrap(scale.DB, ["postgres"], user="pgserver")
    assert "/sys/fs/cgroup/cpu/novaops-sim/w1/cgroup.procs" in capped[2]
    assert "/sys/fs/cgroup/cpuacct/novaops-sim/w1/cgroup.procs" in capped[2]
    assert "/sys/fs/cgroup/cpu/novaops-sim/db" not in free[2]
    assert capped[-5:] == ["netns", "exec", "nv-w1", "celery", "worker"]
    assert free[free.index("nv-db") + 1 : free.index("nv-db") + 3] == ["setpriv", "--reuid"]


def test_the_reason_a_session_ended_comes_from_the_primary_log(tmp_path: Path):
    log = tmp_path / "primary.log"
    log.write_text(
        "2026-12-02 18:01:19.766 UTC [18222] LOG:  could not receive data from client: Connection timed out\n"
        "2026-12-02 18:01:19.766 UTC [18222] LOG:  unexpected EOF on client connection with an open transaction\n"
    )
    assert "TCP timeouts" in scale._ended_by(log, [18222])
    log.write_text(
        "2026-12-02 18:17:34.1 UTC [27866] FATAL:  terminating connection due to idle-in-transaction timeout\n"
    )
    assert "idle-in-transaction timeout" in scale._ended_by(log, [27866])


def _run(workers: int, seconds: float) -> dict:
    return {
        "workers": workers,
        "points": 1000,
        "seconds": seconds,
        "points_per_second": 1000 / seconds,
        "cpu_seconds": {"db": seconds / 2, "web": seconds / 4, "w1": 0.1, "replica": 0.1, "client": 0.0},
        "machine_busy": 1.0,
        "replica_max_lag_seconds": 0.2,
        "verified": {"points": 1000, "rollup_counts": {"300": 1000}},
        "batch_attempts": {"1": 4},
    }


def test_the_table_names_the_busiest_host_and_the_cut():
    cut = _run(2, 4.0) | {
        "cut": {
            "host": "w2",
            "held_sessions": [7],
            "released_after_seconds": 10.1,
            "ended_by": "idle-in-transaction timeout (the app's connection bound)",
            "verified_after_host_returned": {"points": 1000},
        }
    }
    figures = {
        "setup": {"points": 1000, "series": 8, "batches": 4, "batch_size": 250, "clients": 2},
        "machine": {"cpus": 2},
        "runs": [_run(1, 2.0), _run(2, 1.0)],
        "cut": cut | {"batch_attempts": {"1": 3, "2": 1}},
        "replica": {
            "caught_up_after_seconds": 0.0,
            "wal_position": "0/1",
            "identical": True,
            "bytes": 10,
            "series": 2,
            "web_sessions_on_replica": 0,
        },
    }
    figures["setup"] |= {"worker_cpu_quota": 0.5, "worker_concurrency": 1}
    text = report(figures)
    assert "      2      1,000      1.0      1,000       2.00" in text
    assert "1 worker(s): busiest host db (0.50 cores)" in text
    assert "the server ended them 10.1 s after the cut, by idle-in-transaction timeout" in text
    assert "identical" in text and "no database router in this tree" in text
