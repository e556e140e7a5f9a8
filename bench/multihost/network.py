"""The cluster benchmark's own network: one network namespace per host, each joined by a veth pair to a
bridge that lives in a namespace of its own (the "switch"), and one more veth pair from the bench's
namespace to that bridge, so that its clients (wrk, the faculty and residents) reach the hosts.

Every name carries a tag of the run (``tcl<pid>``), so two runs never touch each other's links, and the
subnet is one the machine does not use; a run refuses to start when anything already routes it. Deleting
the namespaces deletes every veth end inside them; the bench's own end is deleted by name.
"""

import subprocess
import time
from dataclasses import dataclass, field

SUBNET = "10.201.0"
CIDR = f"{SUBNET}.0/24"
BENCH_ADDRESS = f"{SUBNET}.1"
#: The hosts of the cluster and the last byte of their address.
HOSTS = {"proxy": 10, "app1": 11, "app2": 12, "worker": 20, "postgres": 30, "redis": 31, "s3": 32}
INTERFACE_NAME_LIMIT = 15  # IFNAMSIZ - 1


def ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


def subnet_in_use() -> str:
    """What in the bench's namespace already routes the subnet (empty when nothing does)."""
    return subprocess.run(["ip", "-4", "route", "show", CIDR], capture_output=True, text=True).stdout.strip()


@dataclass
class Network:
    tag: str
    namespaces: list[str] = field(default_factory=list)  # made so far, deleted in reverse
    bench_link: str | None = None

    def namespace(self, role: str) -> str:
        return f"{self.tag}-{role}"

    @staticmethod
    def address(role: str) -> str:
        return f"{SUBNET}.{HOSTS[role]}"

    def create(self) -> None:
        if len(self.tag) > INTERFACE_NAME_LIMIT:
            raise ValueError(f"tag {self.tag!r} is too long for an interface name")
        if used := subnet_in_use():
            raise RuntimeError(f"{CIDR} is already routed here ({used}): another cluster bench running?")
        switch = self._add_namespace("switch")
        ip("-n", switch, "link", "add", "br0", "type", "bridge")
        ip("-n", switch, "link", "set", "br0", "up")
        self._join_bench(switch)
        for role in HOSTS:
            self._add_host(switch, role)

    def _add_namespace(self, role: str) -> str:
        name = self.namespace(role)
        ip("netns", "add", name)
        self.namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    def _plug(self, switch: str, port: str) -> None:
        ip("-n", switch, "link", "set", port, "master", "br0")
        ip("-n", switch, "link", "set", port, "up")

    def _join_bench(self, switch: str) -> None:
        ip("link", "add", self.tag, "type", "veth", "peer", "name", "port-bench", "netns", switch)
        self.bench_link = self.tag
        self._plug(switch, "port-bench")
        ip("addr", "add", f"{BENCH_ADDRESS}/24", "dev", self.tag)
        ip("link", "set", self.tag, "up")

    def _add_host(self, switch: str, role: str) -> None:
        name = self._add_namespace(role)
        port = f"port-{role}"
        ip("-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", switch)
        self._plug(switch, port)
        ip("-n", name, "addr", "add", f"{self.address(role)}/24", "dev", "eth0")
        ip("-n", name, "link", "set", "eth0", "up")

    def delete(self) -> list[str]:
        """Delete what this run made; returns what could not be deleted (printed by the caller)."""
        problems = []
        if self.bench_link:
            try:
                ip("link", "del", self.bench_link)
            except RuntimeError as error:
                problems.append(str(error))
            self.bench_link = None
        for name in reversed(self.namespaces):
            try:
                ip("netns", "del", name)
            except RuntimeError as error:
                problems.append(str(error))
        self.namespaces.clear()
        # The kernel tears a namespace's links down after the call returns: wait, so a next run finds
        # the subnet free.
        deadline = time.monotonic() + 10
        while subnet_in_use() and time.monotonic() < deadline:
            time.sleep(0.1)
        return problems
