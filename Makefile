# Two commands for a fresh machine: `make run` serves the built-in list, `make test` runs the whole suite.
# Both create .venv and install exactly the pinned versions of requirements/*.lock.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCREENING_PORT ?= 8000
SCREENING_HOST ?= 127.0.0.1

.PHONY: run test install bench clean lock settings-table yente-venv screenshots

$(STAMP): requirements/dev.lock requirements/build.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/build.lock
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@# The browser tests drive Debian's chromium (never a downloaded one): installed here when we are root on Debian.
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }; } || echo "chromium not installed: browser tests will be skipped (fail under CI=true)"; }
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/screening init-db
	$(BIN)/screening load-list
	@echo ""
	@echo "Create a key:   $(BIN)/screening keys create --role screener --label me   (the key is the last line)"
	@echo "Then screen:    curl -s -H \"Authorization: Bearer \$$KEY\" 'http://$(SCREENING_HOST):$(SCREENING_PORT)/v1/screen?name=Chen+Quanguo'"
	@echo ""
	$(BIN)/screening serve --host $(SCREENING_HOST) --port $(SCREENING_PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# The README's screenshots of the analyst interface, taken by its browser tests (Debian's chromium).
screenshots: $(STAMP)
	SCREENING_SCREENSHOTS=docs $(BIN)/python -m pytest -q tests/test_ui_browser.py

bench: $(STAMP)
	$(BIN)/python -m bench

# yente's matcher (nomenklatura logic-v2), compared in bench/independent.py, in an environment of its own.
yente-venv:
	test -x .venv-yente/bin/python || $(PYTHON) -m venv .venv-yente
	.venv-yente/bin/python -m pip install --quiet -r bench/yente-requirements.txt

# Regenerate the lock files after changing pyproject.toml (needs network access to PyPI).
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements/runtime.lock
	$(BIN)/uv pip compile pyproject.toml --extra test --extra dask --python-version 3.11 --generate-hashes -o requirements/dev.lock
	$(BIN)/uv pip compile requirements/build.in --python-version 3.11 --generate-hashes -o requirements/build.lock

settings-table: $(STAMP)
	$(BIN)/python -c "from screening.config import update_readme; update_readme()"

clean:
	rm -rf $(VENV) instance .pytest_cache
