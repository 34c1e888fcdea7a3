# Two commands from clone to endpoint tables: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRIAL ?= $(shell sed -n 's/^trial: *//p' config/config.yaml)
CORES ?= all

.PHONY: install run test lint clean bench

# Re-install only when pyproject.toml changes (the package itself is installed editable).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --config trial=$(TRIAL)
	@echo "Endpoint tables of trial '$(TRIAL)': results/$(TRIAL)/endpoints/{bmd,markers,fractures,comparisons,baseline}.parquet"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint

test: lint
	$(BIN)/python -m pytest -q

# Benchmarks (not part of `make test`, which runs only a smoke run): kernel throughput at
# 1e4/1e5/1e6 patients on 1 and all cores, the LSODA reference, FRAME end to end at full size
# and one million patients, scaling; prints the table, writes benchmarks/latest.json.
# About half an hour on 2 cores; BENCH_ARGS="--sizes 10000,100000 --e2e full" for a shorter run.
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf results logs .snakemake benchmarks/*/
