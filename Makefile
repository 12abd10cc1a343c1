# The two user commands: `make run` (the whole demo study) and `make test`.
# Both create .venv and install requirements.txt when missing.
# Maintainers: `make lint` checks (tests/test_lint.py runs the same lines), `make format` fixes.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PATH := $(abspath $(VENV))/bin:$(PATH)
CORES ?= all

.PHONY: run test lint format clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade -r requirements.txt
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	snakemake --cores $(CORES)
	snakemake --report results/report.html

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	ruff check .
	ruff format --check .
	snakefmt --check Snakefile rules/
	snakemake --lint

format: $(STAMP)
	ruff check --fix .
	ruff format .
	snakefmt Snakefile rules/

clean:
	rm -rf results logs benchmarks .snakemake
