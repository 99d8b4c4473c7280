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
	$(UV) pip install --quiet --python $(PY) -e '.[test,service,polars]'

demo: install
	$(VENV)/bin/socialvalue demo --customers $(DEMO_CUSTOMERS) --seed 7 --out $(DEMO_DIR)

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
