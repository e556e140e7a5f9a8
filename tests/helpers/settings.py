"""Settings read in a fresh interpreter, as a deployment would read them."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_settings(env_overrides: dict, code: str) -> subprocess.CompletedProcess:
    # Only what the test passes: neither this machine's deployment settings nor its object storage.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"} and not key.startswith("S3_")
    }
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        # Reading one setting imports the settings module, as a deployment's start does; the apps are not
        # loaded (django.setup() would import every app, a second or more per run, and reads no setting).
        [sys.executable, "-c", f"from django.conf import settings; settings.DEBUG; {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
