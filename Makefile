# Each target sets up what it needs in .venv; nothing is installed globally.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
PORT   ?= 8000
export FLASK_APP := wsgi

.PHONY: run test test-postgres scan lint format bench load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $@ $(VENV)/.installed

# axe-core and the Nu HTML validator for the browser tests, pinned in tests/tools/package-lock.json.
TOOLS := tests/tools/node_modules/.installed
$(TOOLS): tests/tools/package.json tests/tools/package-lock.json
	cd tests/tools && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

# The web server and the background worker (Procfile) under honcho: Ctrl-C stops both.
run: $(VENV)/.installed
	$(BIN)/flask demo --if-empty
	PORT=$(PORT) MICROSITE_SITE_URL=$${MICROSITE_SITE_URL:-http://127.0.0.1:$(PORT)} \
	  MICROSITE_TRUSTED_HOSTS=$${MICROSITE_TRUSTED_HOSTS-localhost} \
	  $(BIN)/honcho start -f Procfile --port $(PORT)  # the first process (web) gets PORT

test: $(VENV)/.installed-test $(TOOLS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The same suite on a throwaway PostgreSQL cluster (needs Debian's postgresql package).
test-postgres: $(VENV)/.installed-test $(TOOLS)
	scripts/with-postgres $(BIN)/pytest

# Debian's wapiti against a demo instance served over TLS on 127.0.0.1; fails on any finding.
scan: $(VENV)/.installed
	$(BIN)/python scripts/scan.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

# wrk from Debian drives the HTTP benchmarks; without it bench/loadgen.py falls back to Python.
bench: $(VENV)/.installed-bench
	command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk \
		|| echo "wrk unavailable: the HTTP figures use the Python load generator"
	$(BIN)/python -m bench
	$(MAKE) load

# Bounded load run on 127.0.0.1: 64 connections for 30 s against 4 gunicorn workers while an
# admin saves, clears and restores; fails on any 5xx, connection error or lost save.
load: $(VENV)/.installed
	$(BIN)/python -m bench.load --connections 64 --seconds 30 --workers 4

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
