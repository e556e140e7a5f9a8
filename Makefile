# The README's two commands: `make demo` and `make test`. Both set up what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install browser dicom-peers cluster-tools demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# `migrate` also makes the shared cache's table; bin/serve-demo runs a task worker beside the server and
# stops it with the server.
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py load_programme_demo
	$(BIN)/python manage.py dicom_senders list | grep -q '^DEMO_PACS' || $(BIN)/python manage.py dicom_senders add DEMO_PACS --author faculty --host 127.0.0.1
	@echo "Serving the archive on http://$(HOST):$(PORT)/ with a task worker and a DICOM receiver (Ctrl-C stops all)"
	$(BIN)/python bin/serve-demo $(HOST):$(PORT)

# Browser tests drive Debian's Chromium; Playwright cannot download its own browser here.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# The receiver's tests talk to real DICOM peers: dcmtk's storescu/echoscu and Orthanc with its DICOMweb plugin.
dicom-peers:
	@command -v storescu >/dev/null && test -x /usr/sbin/Orthanc && test -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so || (apt-get update -qq && apt-get install -y -qq dcmtk orthanc orthanc-dicomweb)

# --dist loadgroup: a module marked xdist_group (one whose world or helper process is built once per module)
# runs on one worker; every other test is handed out one by one as with the default distribution.
test: install browser dicom-peers
	$(BIN)/python -m pytest -n auto --dist loadgroup $(PYTEST_ARGS)

# The cluster benchmark (bench/cluster.py) runs Debian's nginx, wrk, Redis and PostgreSQL 15 as hosts of its own.
cluster-tools:
	@command -v nginx >/dev/null && command -v wrk >/dev/null && command -v redis-server >/dev/null && test -x /usr/lib/postgresql/15/bin/initdb || (apt-get update -qq && apt-get install -y -qq nginx wrk redis-server postgresql-15)

# Benchmarks print figures and never fail on a time; results go to bench/RESULTS.md.
bench: install cluster-tools
	$(BIN)/python bench/run_all.py

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
