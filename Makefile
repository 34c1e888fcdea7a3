# Two commands from clone to endpoint tables: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRIAL ?= $(shell sed -n 's/^trial: *//p' config/config.yaml)
CORES ?= all

CLUSTER_VENV := .venv-cluster
CLUSTER_STAMP := $(CLUSTER_VENV)/.installed

.PHONY: install install-cluster install-gpu run test test-cluster test-gpu-compile lint clean bench

# Re-install only when pyproject.toml changes (the package itself is installed editable).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The cluster and GPU venvs are layered on the dev venv: a .pth file puts its site-packages on
# their path (after their own), so pip installs only what the extra adds (the cluster venv in
# 11 s instead of 46 s on the 2-core machine) and the dev venv stays without those packages.
# layer VENV EXTRA: create VENV on top of the dev venv and install the package with EXTRA.
define layer
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > \
		"$$($(1)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/dev-venv.pth"
	$(1)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[$(2)]'
	touch $(1)/.installed
endef

# Cluster runs use their own venv with the slurm executor plugin (pyproject extra [cluster]); the
# plugin slows every snakemake command when slurm.conf exists but slurmctld is down.
$(CLUSTER_STAMP): pyproject.toml $(STAMP)
	$(call layer,$(CLUSTER_VENV),cluster)

install-cluster: $(CLUSTER_STAMP)

# The GPU engine's compile check uses its own venv with numba-cuda (pyproject extra [gpu], about
# 1 GB with the CUDA compiler wheels); it needs no GPU (tests/gpu/compile_kernel.py).
GPU_VENV := .venv-gpu
GPU_STAMP := $(GPU_VENV)/.installed
$(GPU_STAMP): pyproject.toml $(STAMP)
	$(call layer,$(GPU_VENV),gpu)

install-gpu: $(GPU_STAMP)

# `plan` first: jobs, patient-days and an estimated time (benchmarks/latest.json), and a warning
# when the analyses will dominate.
run: $(STAMP)
	@$(BIN)/python -m osteotrial plan --config trial=$(TRIAL) --cores $(CORES)
	@$(BIN)/python tools/run_progress.py --log logs/$(TRIAL)/snakemake.log -- \
		$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) --config trial=$(TRIAL)
	@$(BIN)/snakemake --quiet all --config trial=$(TRIAL) --report results/$(TRIAL)/report.html
	@echo ""
	@echo "Trial '$(TRIAL)' done."
	@echo "  Endpoint tables:  results/$(TRIAL)/endpoints/{bmd,markers,fractures,comparisons,baseline}.parquet"
	@echo "  Report folder:    results/$(TRIAL)/report/ (figures *.png, table1.html, efficacy.html, endpoint_tables.html, calibration.{html,parquet}, validation.{html,parquet})"
	@echo "  HTML report:      results/$(TRIAL)/report.html (open in a browser; self-contained)"
	@echo "  Calibration:      $$(.venv/bin/python -c "import polars as pl; t = pl.read_parquet('results/$(TRIAL)/report/calibration.parquet'); print(f'{t[\"within\"].sum()}/{t.height} targets within tolerance (in-sample: fitted)' if t.height else 'no targets for this trial')")"
	@echo "  Validation:       $$(.venv/bin/python -c "import polars as pl; t = pl.read_parquet('results/$(TRIAL)/report/validation.parquet').filter(pl.col('emulated_here')); print(f'{t[\"holds\"].sum()}/{t.height} published results not fitted hold (validation.html)' if t.height else 'no validation rows for this trial (validation.html lists the others)')")"
	@echo "  Analyses (docs/analyses.md): $$(cd results/$(TRIAL) && ls endpoints/individual_effects.parquet endpoints/subgroups.parquet power/power.parquet endpoints/prediction_intervals.parquet 2>/dev/null | tr '\n' ' ')"
	@echo "  Logs: logs/$(TRIAL)/ (snakemake.log: the whole run)  run times: benchmarks/$(TRIAL)/"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint

# Test files run in parallel, one worker per core (TEST_WORKERS=0: one process); a file's
# tests stay on one worker, so its module fixtures (workflow runs) are built once. Files go to
# the workers in collection order, the heavy ones first (tests/conftest.py HEAVY_FIRST).
TEST_WORKERS ?= auto
test: lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Compiles the GPU kernel for sm_90 with the real numba-cuda compiler (the CUDA simulator of
# `make test` runs the kernel as Python and cannot see its typing errors).
test-gpu-compile: $(GPU_STAMP)
	$(GPU_VENV)/bin/python tests/gpu/compile_kernel.py

# Root only: installs Debian's SLURM, starts a one-node cluster, runs FRAME through it, stops it.
test-cluster: $(STAMP) $(CLUSTER_STAMP)
	bash tests/cluster/test-cluster.sh

# Benchmarks (not part of `make test`, which runs only a smoke run): kernel throughput at
# 1e4/1e5/1e6 patients on 1 and all cores, the LSODA reference, FRAME end to end at full size
# and one million patients, scaling; prints the table, writes benchmarks/latest.json.
# About half an hour on 2 cores; BENCH_ARGS="--sizes 10000,100000 --e2e full" for a shorter run.
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf results logs .snakemake benchmarks/*/
