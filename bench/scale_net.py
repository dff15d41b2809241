"""The private network of `python -m bench scale`: a bridge with no physical interface, one network namespace per
simulated host joined to it by a veth pair, and a CPU cgroup per host. Everything is named `nv*` / `novaops-sim`
and `close()` removes all of it, also what a previous run that was killed outright left behind.

The bridge holds the subnet's first address so that the benchmark client (in the root namespace) reaches the hosts;
no namespace has a default route and IP forwarding is left as it is, so nothing leaves the bridge.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

BRIDGE = "nvb0"
SUBNET = "10.231.0"
PREFIX = 24
BRIDGE_ADDRESS = f"{SUBNET}.1"
NETNS_PREFIX = "nv-"
VETH_PREFIX = "nvh-"
# cgroup v1: `cpu` caps the worker hosts (cfs quota), `cpuacct` counts every host's CPU time. Only capped hosts join
# the `cpu` hierarchy: a group there competes with the machine's other processes as ONE scheduling entity, so putting
# the whole simulation in it would hand all of it one process's share of a busy machine.
CPU_ROOT, CPUACCT_ROOT = Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup/cpuacct")
CGROUP_ROOTS = (CPU_ROOT, CPUACCT_ROOT)
DEFAULT_SHARES = 1024
CGROUP_NAME = "novaops-sim"
CFS_PERIOD_US = 100_000


class NetworkFailed(Exception):
    """An `ip` command failed: the message carries its stderr."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise NetworkFailed(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


@dataclass(frozen=True)
class Host:
    name: str  # the namespace's suffix: nv-<name>
    address: str
    cpu_quota: float | None = None  # CPUs (cfs quota / period); None: no limit, accounted only

    @property
    def netns(self) -> str:
        return f"{NETNS_PREFIX}{self.name}"

    @property
    def veth(self) -> str:
        return f"{VETH_PREFIX}{self.name}"  # the bridge side; the namespace side is eth0

    def cgroup(self, root: Path) -> Path:
        return root / CGROUP_NAME / self.name


class Sandbox:
    """The bridge, the hosts' namespaces and cgroups. `wrap(host, command)` runs a command on a host."""

    def __init__(self) -> None:
        self.hosts: dict[str, Host] = {}

    def up(self) -> None:
        self.close()  # leftovers of a run that could not clean up (SIGKILL, power loss)
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{BRIDGE_ADDRESS}/{PREFIX}", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for root in CGROUP_ROOTS:
            (root / CGROUP_NAME).mkdir(exist_ok=True)

    def add(self, host: Host) -> Host:
        self.hosts[host.name] = host
        _ip("netns", "add", host.netns)
        _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
        _ip("link", "set", host.veth, "master", BRIDGE)
        _ip("link", "set", host.veth, "up")
        _ip("-n", host.netns, "link", "set", "lo", "up")
        _ip("-n", host.netns, "addr", "add", f"{host.address}/{PREFIX}", "dev", "eth0")
        _ip("-n", host.netns, "link", "set", "eth0", "up")
        host.cgroup(CPUACCT_ROOT).mkdir(exist_ok=True)
        if host.cpu_quota is not None:
            cpu = host.cgroup(CPU_ROOT)
            cpu.mkdir(exist_ok=True)
            (cpu / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (cpu / "cpu.cfs_quota_us").write_text(str(int(host.cpu_quota * CFS_PERIOD_US)))
            # Their parent weighs as much as that many processes of the machine, one per capped host.
            capped = sum(1 for other in self.hosts.values() if other.cpu_quota is not None)
            (CPU_ROOT / CGROUP_NAME / "cpu.shares").write_text(str(DEFAULT_SHARES * capped))
        return host

    def wrap(self, host: Host, command: list[str], *, user: str | None = None) -> list[str]:
        """`command` run in the host's namespace and cgroups (joined before exec, so every child inherits them),
        as `user` if given."""
        roots = CGROUP_ROOTS if host.cpu_quota is not None else (CPUACCT_ROOT,)
        joins = "; ".join(f"echo $$ > {host.cgroup(root) / 'cgroup.procs'}" for root in roots)
        as_user = ["setpriv", "--reuid", user, "--regid", user, "--init-groups"] if user else []
        return ["sh", "-c", f'{joins}; exec "$@"', "sh", "ip", "netns", "exec", host.netns, *as_user, *command]

    def link(self, host: Host, *, up: bool) -> None:
        _ip("link", "set", host.veth, "up" if up else "down")

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each host's processes (cpuacct), in seconds."""
        usage = {}
        for name, host in self.hosts.items():
            try:
                usage[name] = int((host.cgroup(CPUACCT_ROOT) / "cpuacct.usage").read_text()) / 1e9
            except OSError:
                usage[name] = 0.0
        return usage

    def close(self) -> None:
        """Remove every namespace, veth, cgroup and the bridge of this sandbox (by their reserved names). Processes
        are the caller's to stop first; a namespace whose processes still run is unlinked all the same."""
        listed = _ip("netns", "list", check=False).stdout.split()
        for netns in sorted({name for name in listed if name.startswith(NETNS_PREFIX)}):
            _ip("netns", "delete", netns, check=False)
        for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
            name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
            if name.startswith(VETH_PREFIX):
                _ip("link", "delete", name, check=False)
        if _ip("link", "show", BRIDGE, check=False).returncode == 0:
            _ip("link", "delete", BRIDGE, check=False)
        for root in CGROUP_ROOTS:
            base = root / CGROUP_NAME
            if base.is_dir():
                for child in base.iterdir():
                    if child.is_dir():
                        _cgroup_remove(child)
                base.rmdir()


def _cgroup_remove(cgroup: Path) -> None:
    # Only processes this sandbox started are in its cgroups; any still there (a run killed outright) go now.
    for _ in range(50):
        pids = [int(pid) for pid in (cgroup / "cgroup.procs").read_text().split()]
        if not pids:
            cgroup.rmdir()
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    raise NetworkFailed(f"processes {pids} in {cgroup} would not die")


def all_removed() -> list[str]:
    """What of the sandbox is still on the machine (empty when `close()` did its job)."""
    left = [name for name in _ip("netns", "list", check=False).stdout.split() if name.startswith(NETNS_PREFIX)]
    links = _ip("-o", "link", "show", check=False).stdout
    left += [token for token in (BRIDGE, VETH_PREFIX) if f" {token}" in links]
    left += [str(root / CGROUP_NAME) for root in CGROUP_ROOTS if (root / CGROUP_NAME).exists()]
    return left
