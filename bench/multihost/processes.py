"""A process the cluster bench starts inside one of its namespaces, and stops again by its pid.

``ip netns exec`` execs the command after entering the namespace (and ``setpriv`` execs it after
dropping to another user), so the pid the bench holds is the service's own. Each runs in a session of
its own: the bench can end it and whatever it started by its process group, and a Ctrl-C at the bench's
terminal does not reach it before the bench's own clean-up.
"""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Service:
    def __init__(
        self,
        name: str,
        netns: str,
        command: list[str],
        *,
        log: Path,
        env: dict | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
        stop_timeout: float = 30,
    ):
        self.name = name
        self.netns = netns
        as_user = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"] if user else []
        self.command = ["ip", "netns", "exec", netns, *as_user, *command]
        self.log = log
        self.env = env
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> "Service":
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int | None:
        """Its own stop signal to the service's pid (each service's graceful stop), then SIGKILL to its
        process group for anything left after ``stop_timeout``."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):  # then SIGKILL, below
                self.process.wait(self.stop_timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        return self.process.returncode

    def tail(self, characters: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-characters:] if self.log.exists() else ""


def wait_until(ready, *, what: str, timeout: float, service: Service | None = None) -> None:
    """Poll ``ready()`` until it is true; fail with the service's log when it exits or time runs out."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if service is not None and not service.running():
            raise RuntimeError(f"{service.name} exited while starting:\n{service.tail()}")
        try:
            if ready():
                return
        except Exception as error:  # not listening yet
            last_error = error
        time.sleep(0.25)
    log = f"\n{service.tail()}" if service else ""
    raise RuntimeError(f"{what} not ready within {timeout:.0f} s (last error: {last_error}){log}")


def group_pids(leader: int) -> list[int]:
    """Every live process of ``leader``'s process group, from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields: state, ppid, pgrp ...; a zombie has released its sockets already.
        if int(fields[2]) == leader and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids
