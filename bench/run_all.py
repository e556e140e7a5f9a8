"""Run every benchmark under bench/ and write bench/RESULTS.md: machine, versions, date, every figure.

    make bench        (or: .venv/bin/python bench/run_all.py)

Each benchmark runs as its own process, on PostgreSQL where it needs it (``DATABASE_URL``, default the
local server), and prints its own table; this script collects those tables verbatim. Benchmarks print
figures and assert nothing: a benchmark that fails is reported as failed, with its output, and the
others still run.
"""

import datetime
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
POSTGRES_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/teaching_archive")

# (script, needs PostgreSQL, extra arguments)
BENCHMARKS = [
    ("ingest.py", False, []),
    ("search.py", True, []),
    ("pages.py", True, []),
    ("load.py", True, []),
    ("faults.py", True, []),
    ("viewer.py", False, []),
    ("conference.py", True, []),
    ("receive.py", False, []),
    # Starts its own PostgreSQL (and everything else) in network namespaces of its own: root.
    ("cluster.py", False, []),
]


def versions() -> str:
    packages = ["Django", "pydicom", "numpy", "Pillow", "psycopg2-binary", "django-taggit"]
    found = []
    for name in packages:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def postgres_version() -> str:
    result = subprocess.run(["psql", "--version"], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def run(script: str, needs_postgres: bool, arguments: list[str]) -> tuple[str, int, float]:
    env = dict(os.environ)
    if needs_postgres:
        env["DATABASE_URL"] = POSTGRES_URL
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *arguments], cwd=ROOT, env=env, capture_output=True, text=True
    )
    output = result.stdout + (f"\n--- stderr ---\n{result.stderr}" if result.returncode else "")
    return output, result.returncode, time.monotonic() - started


def main() -> int:
    lines = [
        "# Benchmark results",
        "",
        f"- Date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.platform()}",
        f"- Python {platform.python_version()}; {versions()}; {postgres_version()}",
        "",
        "Absolute times on a shared machine are noise; compare the figures within one run (the ratios).",
        "",
    ]
    failures = 0
    for script, needs_postgres, arguments in BENCHMARKS:
        print(f"== {script}", flush=True)
        output, code, seconds = run(script, needs_postgres, arguments)
        print(output, flush=True)
        failures += code != 0
        status = "" if code == 0 else f" — FAILED (exit {code})"
        lines += [
            f"## {script}{status}",
            "",
            f"Ran in {seconds:.0f} s.",
            "",
            "```",
            output.rstrip(),
            "```",
            "",
        ]
    (BENCH / "RESULTS.md").write_text("\n".join(lines))
    print(f"Wrote {BENCH / 'RESULTS.md'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
