"""The proxy configuration the cluster benchmark writes (bench/multihost/nginx.py), which docs/deploying.md
shows for real hosts: both application hosts upstream, idempotent requests passed on to the other when one
fails, a POST never sent twice; and the reading of its access log, which the benchmark's checks rest on."""

from pathlib import Path

from bench.multihost.nginx import proxy_config, read_access_log, read_cut_answers

UPSTREAMS = ["10.201.0.11:8000", "10.201.0.12:8000"]


def config() -> str:
    return proxy_config(listen="10.201.0.10:80", upstreams=UPSTREAMS, prefix=Path("/srv/proxy"))


def directives(text: str, name: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith(name + " ")]


def test_both_application_hosts_are_upstreams_and_failed_requests_go_to_the_other():
    text = config()
    servers = [line.split()[1] for line in directives(text, "server") if not line.endswith("{")]
    assert servers == UPSTREAMS
    (next_upstream,) = directives(text, "proxy_next_upstream")
    assert {"error", "timeout", "http_502"} <= set(next_upstream.rstrip(";").split()[1:])
    # A POST that reached the dead host may have been acted on: nginx must not send it again.
    assert "non_idempotent" not in next_upstream
    assert directives(text, "proxy_pass") == ["proxy_pass http://archive;"]
    assert "proxy_set_header X-Forwarded-Proto https;" in directives(text, "proxy_set_header")


def test_the_access_log_gives_each_request_its_window_and_every_upstream_tried(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(
        '1764926400.250 0.125 200 "GET /cases/?q=emh" "10.201.0.11:8000, 10.201.0.12:8000" "502, 200"\n'
        '1764926401.000 1.500 502 "POST /admin/imaging/series/add/" "10.201.0.11:8000" "502"\n'
        '1764926402.000 0.000 499 "GET /" "-" "-"\n'
    )
    retried, failed, gone = read_access_log(log)
    assert (retried.started, retried.ended, retried.status) == (1764926400.125, 1764926400.25, 200)
    assert retried.upstreams == UPSTREAMS and retried.retried
    assert retried.path == "/cases/?q=emh"
    assert (failed.method, failed.status, failed.upstreams, failed.retried) == (
        "POST",
        502,
        ["10.201.0.11:8000"],
        False,
    )
    assert failed.started == 1764926399.5
    assert gone.upstreams == [] and gone.status == 499


def test_the_error_log_names_answers_cut_off_mid_way_not_those_passed_to_the_other_host(tmp_path):
    log = tmp_path / "error.log"
    log.write_text(
        "2026/12/05 09:40:01 [error] 7#7: *51 upstream prematurely closed connection while reading upstream, "
        'client: 10.201.0.1, server: , request: "GET /cases/ HTTP/1.1", upstream: '
        '"http://10.201.0.11:8000/cases/", host: "10.201.0.10"\n'
        "2026/12/05 09:40:01 [error] 7#7: *52 upstream prematurely closed connection while reading response "
        'header from upstream, client: 10.201.0.1, server: , request: "GET / HTTP/1.1", upstream: '
        '"http://10.201.0.11:8000/", host: "10.201.0.10"\n'
    )
    (cut,) = read_cut_answers(log)
    assert cut.upstream == "10.201.0.11:8000"
