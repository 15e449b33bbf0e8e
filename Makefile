# KetaDesk: `make run` opens the app on a demo clinic, `make test` runs the whole suite headless.
# Both create .venv on first use; nothing else needs to be installed by hand.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export QT_QPA_PLATFORM ?= $(if $(DISPLAY)$(WAYLAND_DISPLAY),,offscreen)

.PHONY: run test test-clock-ahead lint format typecheck bench soak demo screenshot screenshots clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create a virtual environment: install python3-venv (apt install python3-venv)"; \
	  exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[postgres,test,dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m ketadesk run --demo-if-missing

# The suite runs on pytest-xdist workers, one per core up to 4 (TEST_WORKERS=N to choose,
# TEST_WORKERS=0 for one process), a test file's tests on one worker (their module-wide
# fixtures are built once); each test has its own databases wherever it runs
# (tests/conftest.py, tests/clinic_fixtures.py).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ "$$n" -gt 4 ] && n=4; echo $$n)
PYTEST_PARALLEL = $(if $(TEST_WORKERS),-n $(TEST_WORKERS) --dist loadfile)

test: $(STAMP) lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q $(PYTEST_PARALLEL)

# The suite again (less the import-graph and config checks) with the process clock moved ahead
# (Debian's faketime, which children and subprocesses inherit): a test that books a fixed date
# against the real clock fails here today rather than on the day that date passes. CI runs it
# after `make test`.
# (The monotonic clock moves with the wall clock: faking only the wall clock makes libfaketime
# 0.9.10 answer Python's timed sleeps with EINVAL.)
CLOCK_AHEAD ?= +400d
test-clock-ahead: $(STAMP)
	@command -v faketime >/dev/null || { echo "test-clock-ahead needs faketime (apt install faketime)"; exit 1; }
	QT_QPA_PLATFORM=offscreen faketime -f "$(CLOCK_AHEAD)" \
	  $(PY) -c 'import datetime, sys; print("clock moved to", datetime.date.today()); sys.exit(0)'
	QT_QPA_PLATFORM=offscreen faketime -f "$(CLOCK_AHEAD)" \
	  $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_PARALLEL) tests/scheduling tests/store \
	  tests/services tests/printing tests/ui tests/commands

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider tests/benchmarks -s \
	  -o addopts="--strict-markers"

# Soak tests (never part of `make test`): workstation processes making random bookings, moves,
# cancels, undos and status changes, then an independent SQL check (tests/soak/run.py).
# Sized by variables, e.g.  make soak SOAK_BACKEND=postgresql SOAK_WORKERS=8 SOAK_OPS=1000000
# or  make soak SOAK_KILLS=1000  (a kill -9 soak).  Without a size: a two-minute run.
SOAK_BACKEND ?= sqlite
SOAK_WORKERS ?=
SOAK_MINUTES ?=
SOAK_OPS ?=
SOAK_KILLS ?=
SOAK_SEED ?=
# The server (default KETADESK_TEST_PG_URL) goes through the environment, not the command line.
export SOAK_PG_URL
SOAK_OUT ?=
SOAK_ARGS ?=
soak: $(STAMP)
	$(PY) -m tests.soak --backend $(SOAK_BACKEND) \
	  $(if $(SOAK_WORKERS),--workers $(SOAK_WORKERS)) $(if $(SOAK_MINUTES),--minutes $(SOAK_MINUTES)) \
	  $(if $(SOAK_OPS),--ops $(SOAK_OPS)) $(if $(SOAK_KILLS),--kills $(SOAK_KILLS)) \
	  $(if $(SOAK_SEED),--seed $(SOAK_SEED)) \
	  $(if $(SOAK_OUT),--out $(SOAK_OUT)) $(SOAK_ARGS)

# The README's pictures of the window's views in docs/screenshots/, each `ketadesk screenshot`
# on a fresh demo clinic at 1400x900 (scripts/screenshots.py).  Some only:
#   make screenshots SCREENSHOT_VIEWS="waitlist my-day"
SCREENSHOT_VIEWS ?=
screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) scripts/screenshots.py $(SCREENSHOT_VIEWS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
