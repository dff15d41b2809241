# The two commands: `make run` and `make test` (see README). Everything installs itself on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: run test bench lint format browser prometheus clean

run: $(STAMP)
	$(PY) -m novaops.run

test: $(STAMP) browser prometheus
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP) browser
	$(PY) -m bench ingest && $(PY) -m bench dashboards && $(PY) -m bench escalations && $(PY) -m bench meetings

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# Browser tests drive Debian's Chromium (never `playwright install`, which downloads a browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }

# The remote-write tests scrape and forward with Debian's Prometheus server, installed the same way.
prometheus:
	@command -v prometheus >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

clean:
	$(PY) -m novaops.embedded down || true
	rm -rf var
