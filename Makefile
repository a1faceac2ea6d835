# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ROWS ?= 400000

.PHONY: demo test bench lint clean screenshots

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/routewatch demo --rows $(ROWS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The suite runs in three processes: the embedded engine keeps some threads and file descriptors of every session a
# process opens, and one process opening the suite's thousands of sessions would reach the limit of open files.
TEST_GROUPS := 'tests/test_[a-d]*.py' 'tests/test_[e-l]*.py' 'tests/test_[m-z]*.py'
test: lint
	@status=0; for group in $(TEST_GROUPS); do $(BIN)/pytest $$group || status=1; done; exit $$status

# Every dashboard page of the demo's store, photographed in Chromium for the README (run `make demo` first).
screenshots: $(BIN)/.installed
	$(BIN)/python docs/screenshots.py

bench: $(BIN)/.installed
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .routewatch .pytest_cache .mypy_cache .ruff_cache build dist
