# The two commands: `make run` and `make test`. Both install what is missing first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= $(or $(filter postgres%,$(DATABASE_URL)),postgres://postgres@127.0.0.1:5432/photos)

.PHONY: install install-dev run test test-sqlite test-postgres test-chaos lint fmt check bench bench-quick screenshots docs-anchors

# `make run` installs what the app needs to run (requirements.txt); the test, lint and
# check targets add the tools (requirements-dev.txt, which includes requirements.txt).
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements.txt requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo_users
	$(PY) -m config.devrun

# The suite runs on SQLite and on PostgreSQL when one answers (CI makes sure it does), as
# three pytest runs side by side (tests/suites.py): SQLite, PostgreSQL, and the fault
# suite (-m chaos) once, on PostgreSQL, the production database. Without PostgreSQL the
# whole suite, the fault suite included, runs on SQLite. Each run writes
# var/test-<run>.log, printed when it ends; exit code 5 (no tests) is not a failure.
PG_ANSWERS = $(PY) -c "import psycopg; psycopg.connect('$(PG_TEST_URL)'.rsplit('/',1)[0] + '/postgres', connect_timeout=2).close()" 2>/dev/null

test: install-dev
	@if $(PG_ANSWERS); then \
		$(PY) -m tests.suites $(PG_TEST_URL) $(PYTEST_ARGS); \
	elif [ -n "$$REQUIRE_POSTGRES" ]; then \
		echo "PostgreSQL at $(PG_TEST_URL) does not answer, and REQUIRE_POSTGRES is set."; exit 1; \
	else \
		echo "PostgreSQL at $(PG_TEST_URL) does not answer: the whole suite runs on SQLite only."; \
		$(PY) -m tests.suites "" $(PYTEST_ARGS); \
	fi

test-sqlite: install-dev
	env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS) || [ $$? -eq 5 ]

test-postgres: install-dev
	DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The fault suite alone (on SQLite unless DATABASE_URL says otherwise).
test-chaos: install-dev
	$(PY) -m pytest -m chaos $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# A model change without its migration fails here, and so does any lint finding (CI runs this).
check: install-dev
	$(PY) manage.py makemigrations --check --dry-run
	$(MAKE) --no-print-directory lint

# The browser tests again, refreshing the screenshots the docs show (docs/screenshots/).
screenshots: install-dev
	UPDATE_DOCS_SCREENSHOTS=1 $(PY) -m pytest -m browser $(PYTEST_ARGS)

# Move every line anchor in README.md and docs/*.md ([`name`](../file.py#L<n>)) to the line
# that defines its name now; tests/test_docs.py fails on a stale one.
docs-anchors: install
	$(PY) docs/anchors.py --fix

# The benchmarks (bench/README.md): each starts what it needs on loopback and stops it.
# They take minutes and load the machine: run them alone. bench-quick makes every run small.
BENCHES := throughput images end_to_end fan_out requests pages profiles

bench: install-dev
	$(PY) -m pip install --quiet -r requirements-bench.txt
	for name in $(BENCHES); do $(PY) bench/$$name.py || exit 1; done
	$(PY) bench/build_readme.py

bench-quick:
	BENCH_QUICK=1 $(MAKE) --no-print-directory bench

