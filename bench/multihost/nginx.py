"""The proxy in front of the application hosts: Debian's nginx with a configuration of the bench's own
(written here, the same as docs/deploying.md shows for real hosts), and the reading of its access log.

Requests are spread over the upstreams (least connections). When an upstream cannot be reached, or
drops a request before answering, nginx sends an idempotent request (GET, HEAD …) to the next one
(``proxy_next_upstream``); a POST that had reached the dead host is not sent again (nginx's default,
``non_idempotent`` left out), since it may have been acted on: its client gets the 502 and decides.
A failed upstream is left alone for ``fail_timeout``.
"""

import re
from dataclasses import dataclass
from pathlib import Path

# $msec: the time the response was logged (epoch seconds, ms resolution); $request_time: seconds since
# the request's first byte. Both give the window during which a request was under way.
LOG_FORMAT = '$msec $request_time $status "$request_method $request_uri" "$upstream_addr" "$upstream_status"'


def proxy_config(*, listen: str, upstreams: list[str], prefix: Path, user: str = "www-data") -> str:
    servers = "\n".join(f"        server {address} max_fails=1 fail_timeout=10s;" for address in upstreams)
    return f"""\
# Written by bench/cluster.py; run as: nginx -p {prefix} -c {prefix / "nginx.conf"}
daemon off;
user {user};
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;

events {{
    worker_connections 1024;
}}

http {{
    log_format cluster '{LOG_FORMAT}';
    access_log {prefix / "access.log"} cluster;
    client_body_temp_path {prefix / "client_body"};
    proxy_temp_path {prefix / "proxy"};
    fastcgi_temp_path {prefix / "fastcgi"};
    uwsgi_temp_path {prefix / "uwsgi"};
    scgi_temp_path {prefix / "scgi"};

    upstream archive {{
        least_conn;
{servers}
    }}

    server {{
        listen {listen};
        client_max_body_size 100m;  # series uploads: as large as the archive accepts

        location / {{
            proxy_pass http://archive;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # TLS ends here in production ($scheme); the bench speaks plain HTTP to spare its two cores.
            proxy_set_header X-Forwarded-Proto https;
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;  # gunicorn's own timeout
        }}
    }}
}}
"""


@dataclass
class ProxyRecord:
    started: float  # epoch seconds
    ended: float
    status: int
    method: str
    path: str
    upstreams: list[str]  # every upstream tried, in order ("10.201.0.11:8000")
    upstream_statuses: list[str]

    @property
    def retried(self) -> bool:
        return len(self.upstreams) > 1


LINE = re.compile(r'^(\S+) (\S+) (\d{3}) "(\S+) ([^"]*)" "([^"]*)" "([^"]*)"$')


def _listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip() not in ("", "-")]


def read_access_log(path: Path) -> list[ProxyRecord]:
    records = []
    for line in path.read_text(errors="replace").splitlines():
        match = LINE.match(line)
        if not match:
            continue
        msec, request_time, status, method, uri, upstreams, statuses = match.groups()
        ended = float(msec)
        records.append(
            ProxyRecord(
                started=ended - float(request_time),
                ended=ended,
                status=int(status),
                method=method,
                path=uri,
                upstreams=_listed(upstreams),
                upstream_statuses=_listed(statuses),
            )
        )
    return records


# An answer cut off after its first bytes had gone to the client: nginx can no longer pass the request to
# another host, and closes the client's connection (wrk counts a read error). "while reading response
# header from upstream", by contrast, is an error nginx recovers from by trying the next host.
CUT_RE = re.compile(
    r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[error\].* while reading upstream, .*upstream: "http://([^/"]+)'
)


@dataclass
class CutAnswer:
    logged: float  # epoch seconds, to the second (nginx's error log)
    upstream: str


def read_cut_answers(path: Path) -> list[CutAnswer]:
    """The answers nginx's error log says were cut off mid-way by their upstream."""
    import time

    cuts = []
    for line in path.read_text(errors="replace").splitlines():
        if match := CUT_RE.match(line):
            logged = time.mktime(time.strptime(match.group(1), "%Y/%m/%d %H:%M:%S"))
            cuts.append(CutAnswer(logged=logged, upstream=match.group(2)))
    return cuts
