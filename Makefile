# socialvalue — developer entry points. A fresh machine needs only `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
DEMO_DIR ?= demo_output
DEMO_CUSTOMERS ?= 20000

.PHONY: venv install install-test demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv

venv: $(PY)

install: venv
	$(UV) pip install --quiet --python $(PY) -e .

install-test: venv
	$(UV) pip install --quiet --python $(PY) -e '.[test,service,polars,spark]'

DEMO_AS_OF ?= 2026-07-01

demo: install
	$(VENV)/bin/socialvalue demo --customers $(DEMO_CUSTOMERS) --seed 7 --out $(DEMO_DIR)
	$(VENV)/bin/socialvalue run $(DEMO_DIR)/socialvalue.duckdb --as-of $(DEMO_AS_OF) --report $(DEMO_DIR)/report.html
	$(VENV)/bin/socialvalue export $(DEMO_DIR)/socialvalue.duckdb --out $(DEMO_DIR)/exports
	@echo "demo results: store $(DEMO_DIR)/socialvalue.duckdb, report $(DEMO_DIR)/report.html, exports $(DEMO_DIR)/exports/"

test: install-test
	bash scripts/system-deps.sh
	$(PY) -m pytest

lint: install-test
	$(VENV)/bin/ruff check src tests benchmarks

bench: venv
	$(UV) pip install --quiet --python $(PY) -e '.[bench,test]'
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
