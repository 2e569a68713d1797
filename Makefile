# make run    - set up .venv if needed, run the default pipeline (configs/taxi.yaml)
# make check  - layer contracts (import-linter), ruff and mypy on the tree
# make test   - set up .venv if needed, `make check`, then the whole test suite
# make bench  - default pipeline cold, re-run and unchanged against TFX's example cold and re-run, per-component times
# make bench-scale [ROWS=1000000] [ARGS=...] - a taxi-shaped CSV of ROWS rows: TFX's example, then this project, timed back to back
# make image  - build docker/Dockerfile where a Docker engine answers; lint it (hadolint) in any case
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
CONFIG    ?= configs/taxi.yaml
PIP_PIN   := pip==24.2

# A Python 3.10 interpreter: $PYTHON, python3.10 on PATH, pyenv's, then the system's.
define find_python310
for candidate in "$$PYTHON" python3.10 \
    $$(ls -d "$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V | tail -1) \
    /usr/bin/python3.10 /usr/local/bin/python3.10; do \
  [ -n "$$candidate" ] || continue; \
  if "$$candidate" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then \
    command -v "$$candidate" || echo "$$candidate"; exit 0; fi; \
done; exit 1
endef

.PHONY: run check test unit bench bench-scale image lock clean setup which-python

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@if [ ! -x $(PY) ]; then \
	  py=$$( $(find_python310) ) || { \
	    echo "error: TFX 1.16 needs Python 3.10 and none was found." >&2; \
	    echo "  install one, e.g. 'pyenv install 3.10.13' or 'apt-get install python3.10 python3.10-venv'," >&2; \
	    echo "  or name it: make PYTHON=/path/to/python3.10 ..." >&2; exit 1; }; \
	  echo "creating $(VENV) with $$py"; \
	  "$$py" -m venv $(VENV) && $(PY) -m pip install -q $(PIP_PIN); \
	fi
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	$(PY) -m pip check
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/mlops run $(CONFIG)

# The layer order (import contracts), lint and types, before any test.
check: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Whole suite, with a throwaway MariaDB on 127.0.0.1 for the MySQL tests, stopped also when tests
# fail, and headless Chromium for the report's browser tests; on every core (tests/conftest.py groups
# what shares a fixture). pytest's exit code 5 (nothing collected) fails like any other.
MARIADB_DIR := $(CURDIR)/.mariadb
# Every character that escapes differently in protobuf text, JSON and repr: the tests grep for each form.
export MLOPS_TEST_MYSQL_PASSWORD := throwaway "quoted" it's back\slash	tab-pässwörd
test: check
	@trap 'tests/services/mariadb.sh stop $(MARIADB_DIR)' EXIT; \
	browser=$$(tests/services/chromium.sh) && \
	tests/services/mariadb.sh start $(MARIADB_DIR) && \
	MLOPS_TEST_BROWSER=$$browser MLOPS_TEST_MYSQL_PORT=$$(cat $(MARIADB_DIR)/port) $(PY) -m pytest -n auto tests

unit: $(STAMP)
	$(PY) -m pytest tests/unit

bench: $(STAMP)
	$(PY) bench/bench.py $(CONFIG)

ROWS ?= 1000000
bench-scale: $(STAMP)
	$(PY) bench/scale.py --rows $(ROWS) $(ARGS)

IMAGE ?= tfx-mlops:latest
image: $(STAMP)
	$(VENV)/bin/hadolint docker/Dockerfile
	@if docker info >/dev/null 2>&1; then docker build -f docker/Dockerfile -t $(IMAGE) .; \
	else echo "no Docker engine answers here: $(IMAGE) not built (docker/Dockerfile linted only)"; fi

# Re-pin every package after changing pyproject.toml's dependencies.
lock:
	$(PY) -m pip install -q -e '.[test]'
	{ head -2 constraints.txt; $(PY) -m pip freeze --exclude-editable; } > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) outputs

# Prints the Python 3.10 that a new .venv would be made with.
which-python:
	@$(find_python310)
