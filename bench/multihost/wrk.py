"""wrk as a process of the cluster bench's own, so that an interrupted run stops it by its pid too (it would
otherwise go on sending to addresses that no longer exist until its duration is over)."""

import contextlib
import subprocess
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]


class Wrk:
    def __init__(self, base: str, paths_file: Path, *, threads: int, connections: int, seconds: int):
        self.command = [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
            "-s", str(BENCH / "wrk_mix.lua"), base, "--", str(paths_file), str(threads),
        ]  # fmt: skip
        self.seconds = seconds
        self.name = "wrk"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Wrk":
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        return self

    def figures(self) -> dict[str, int]:
        """Wait for the end of the run; the figures its script prints (``MIX key value``)."""
        out, err = self.process.communicate(timeout=self.seconds + 120)
        if self.process.returncode != 0:
            raise RuntimeError(f"wrk failed ({self.process.returncode}):\n{out}\n{err}")
        return {
            line.split()[1]: int(float(line.split()[2]))
            for line in out.splitlines()
            if line.startswith("MIX ")
        }

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()
        return self.process.returncode
