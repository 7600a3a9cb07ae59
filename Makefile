# Two commands on a fresh machine (Python 3.11+, make, git):
#   make run    set everything up and start the portal with its worker on http://127.0.0.1:5000
#   make test   set everything up and run the tests (SQLite, or PostgreSQL when DATABASE_URL says so)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test test-fast setup migrate demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: requirements are reinstalled only when a requirements file changes.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime

migrate: setup
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo > /dev/null

run: demo
	$(BIN)/python -m portal.runner

test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The inner loop, under two minutes: no browser, no PostgreSQL, none of the several-process system tests
# (tests/system/) nor the exhaustive sweeps (marked slow), on every core.
test-fast: $(VENV)/.dev
	env -u DATABASE_URL $(BIN)/python -m pytest -n auto -m "not browser and not slow" --ignore=tests/system \
		-p no:cacheprovider $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(BIN)/python bench/api_throughput.py
	$(BIN)/python bench/import_marks.py
	$(BIN)/python bench/screen_listings.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/scale_out.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/platform_queue.py

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
