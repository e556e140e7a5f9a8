"""Security headers, the health URL and a clean deployment check."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def policy(response) -> dict[str, str]:
    directives = [part.strip() for part in response["Content-Security-Policy"].split(";") if part.strip()]
    return {d.split()[0]: " ".join(d.split()[1:]) for d in directives}


def test_public_pages_forbid_inline_script_and_style(client, seeded):
    for url in ["/", "/cases/", "/cases/back-and-left-leg-pain-47f/"]:
        csp = policy(client.get(url))
        assert csp["script-src"] == "'self'"
        assert csp["style-src"] == "'self'"
        assert csp["object-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
        assert "style-src-attr" not in csp
        assert "unsafe" not in client.get(url)["Content-Security-Policy"]


def test_admin_may_use_style_attributes_but_never_inline_script(admin_client):
    csp = policy(admin_client.get("/admin/"))
    assert csp["style-src-attr"] == "'unsafe-inline'"
    assert csp["script-src"] == "'self'"


def test_other_security_headers(client):
    response = client.get("/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_health_url_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_deploy_check_is_clean_in_production_settings(tmp_path):
    # DJANGO_ALLOW_ASYNC_UNSAFE (set for the browser tests) would itself be reported by the check.
    skipped = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {key: value for key, value in os.environ.items() if key not in skipped}
    env.update(
        DEBUG="0",
        SECRET_KEY="k" * 64 + "-not-a-real-secret",
        ALLOWED_HOSTS="cases.example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
