# Set-up is `make demo` or `make test`; both build .venv from the lock files first.
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120
export PREFECT_LOGGING_LEVEL ?= WARNING
RESIDENTS ?= 20000
DAYS ?= 10
SERVE_PORT ?= 4200
# pytest-xdist workers for make test / test-fast: one per CPU (2 here); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= logical
# Whole files per worker (module and session fixtures are built once per worker, never shared between them),
# in the order tests/conftest.py gives: the files with slow tests first, so the longest start first.
XDIST = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: demo test test-fast bench bench-capacity bench-rollup serve clean-data lock

# --compile-bytecode: uv leaves .pyc files out by default (pip writes them), and where the environment sets
# PYTHONDONTWRITEBYTECODE every process then compiles each module it imports: 2-3 CPU s of a daily run's imports.
$(VENV)/.installed: requirements.lock requirements-dev.lock pyproject.toml Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check uv==0.13.9
	$(UV) pip sync -q --compile-bytecode --python $(VENV)/bin/python requirements.lock requirements-dev.lock
	$(UV) pip install -q --compile-bytecode --python $(VENV)/bin/python --no-deps -e .
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/python -m juki.demo --residents $(RESIDENTS) --days $(DAYS)

# Everything, as CI runs it (.ci/run): under 15 minutes on an idle 2-core machine.
test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q $(XDIST)

# Everything but the end-to-end tests marked slow (a Prefect server, a browser, catch-up runs): for a
# developer between changes.
test-fast: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q $(XDIST) -m "not slow"

# A local Prefect server (127.0.0.1:$(SERVE_PORT), data in data/prefect/) with the deployments of
# prefect.yaml and a worker, in the foreground until Ctrl-C.
serve: $(VENV)/.installed
	JUKI_SERVE_PORT=$(SERVE_PORT) exec bash scripts/serve.sh

# One day at full size, step by step, beside the raw floors and the peer (607,000 residents unless
# RESIDENTS is given on the command line); data kept in data/bench/ and reused.
bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/bench_day.py $(if $(filter command line,$(origin RESIDENTS)),--residents $(RESIDENTS))

# Can the machine hold a city? Generate, BASELINE and three days, each its own process, against 8 GiB
# (6,000,000 residents unless RESIDENTS is given on the command line); the city kept in data/bench/.
bench-capacity: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/bench_capacity.py $(if $(filter command line,$(origin RESIDENTS)),--residents $(RESIDENTS))

# The national roll-up at real size: simulated statistics files of all 1,741 municipalities (written once into
# data/bench/nation-stats/, reused), then `juki rollup` timed for 50, 200 and all of them.
bench-rollup: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/bench_rollup.py

lock: $(VENV)/.installed
	$(UV) pip compile -q requirements.in --python-version 3.11 --generate-hashes -o requirements.lock
	$(UV) pip compile -q requirements-dev.in --python-version 3.11 --generate-hashes -o requirements-dev.lock

clean-data:
	rm -rf data/demo
