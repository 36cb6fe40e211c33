# Two commands on a fresh clone: `make run` (the app, offline, sample agents) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.app-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.app-installed

run: $(VENV)/.app-installed
	$(BIN)/streamlit run app.py

# The whole suite twice: on SQLite (the default), then on a throwaway PostgreSQL server.
test: $(VENV)/.dev-installed
	IMAGEGEN_TEST_BACKEND=sqlite $(BIN)/python -m pytest
	IMAGEGEN_TEST_BACKEND=postgresql $(BIN)/python -m pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/benchmark.py

clean:
	rm -rf $(VENV) .pytest_cache
