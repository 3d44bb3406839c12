# Partner Portal — developer entry points (GNU make).
#
#   make run     venv (what running needs) + assets, migrate, load demo data, serve on 127.0.0.1:5000
#                with a worker of the task queue beside it (e-mails)
#   make test    venv + the test extras, pytest on SQLite; also on PostgreSQL when TEST_POSTGRES_URL is set
#   make bench   bench/run.py
#   make translations  extract the words, update the fr and pl catalogues (English is the source), compile
#   make htmx    copy htmx from node_modules into portal/static/vendor/ after its version changed in
#                package.json (commit the file: a pip install serves it, docs/rules.md rule 42)
#   make clean   remove the venv, node_modules and caches

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV   := .venv
VPY    := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app wsgi
STAMP  := $(VENV)/.installed
# The test extras (pytest, Playwright, schemathesis…) are for `make test` only: `make run` does
# without them (issue 11: they were 352 MB of a plain run).
TEST_STAMP := $(VENV)/.installed-test
HTMX   := portal/static/vendor/htmx.min.js
NPM_STAMP := node_modules/.installed

HOST ?= 127.0.0.1
PORT ?= 5000

# The interpreter the venv is built from. `python3` may be a pyenv shim (or a
# too-old system python), so resolve it to a real executable of Python >= 3.11
# once, here, and fall back to explicit versions. Override with PYTHON=/path.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in python3 python3.13 python3.12 python3.11 /usr/bin/python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11); print(sys.executable)' 2>/dev/null && break; \
	done)
endif

DEMO_LOGINS := operator@portal.example admin@northwind.example finance@northwind.example \
	support@northwind.example admin@acme.example accountant@acme.example \
	frontdesk@acme.example admin@globex.example admin@southwind.example \
	admin@initech.example

.PHONY: help venv test-venv assets htmx run test bench translations clean

help:
	@echo "make run    - install, migrate, load demo data, serve on http://$(HOST):$(PORT) (and a worker)"
	@echo "make test   - pytest on SQLite (+ PostgreSQL when TEST_POSTGRES_URL is set)"
	@echo "make bench  - run bench/run.py"
	@echo "make venv   - create $(VENV) and install the project (what running needs)"
	@echo "make test-venv - the same, plus the test extras"
	@echo "make assets - npm ci (htmx, axe-core for the accessibility tests)"
	@echo "make htmx   - copy htmx from node_modules into portal/static/vendor/ (then commit it)"
	@echo "make clean  - remove $(VENV), node_modules and caches"

# ---------------------------------------------------------------- Python venv
venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.11 found (set PYTHON=/path/to/python3)" >&2; exit 1; }
	@if ! $(VPY) -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then \
		echo "creating $(VENV) with $(PYTHON)"; \
		rm -rf $(VENV); \
		$(PYTHON) -m venv $(VENV); \
	fi
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e .
	@touch $@

test-venv: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP)
	$(VPY) -m pip install --quiet -e '.[test]'
	@touch $@

# --------------------------------------------------------------- htmx assets
# portal/static/vendor/htmx.min.js is committed, so a pip install serves it (docs/rules.md rule 42).
# `assets` never overwrites it (it only restores a deleted one): in CI the committed file must meet
# node_modules as npm ci installed it from package-lock.json, or tests/test_assets.py could not see
# a version bump whose new htmx.min.js was not committed. After changing htmx's version in
# package.json (and the lock), `make htmx` copies the new file; commit it.
assets: $(NPM_STAMP) | $(HTMX)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

$(HTMX): | $(NPM_STAMP)
	@mkdir -p $(@D)
	cp node_modules/htmx.org/dist/htmx.min.js $@

htmx: $(NPM_STAMP)
	cp node_modules/htmx.org/dist/htmx.min.js $(HTMX)

# ------------------------------------------------------------------------ run
run: export FLASK_DEBUG := 1
run: venv assets
	$(FLASK) db upgrade
	$(FLASK) demo load
	@echo
	@echo "Demo logins (password: demo-password) at http://$(HOST):$(PORT)/login"
	@for u in $(DEMO_LOGINS); do echo "  $$u"; done
	@echo
	@# A worker of the task queue beside the server (docs/rules.md rule 31): it sends the e-mails
	@# (to the log without PORTAL_MAIL_SERVER); stopped with the server.
	$(FLASK) jobs run & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --debug --host $(HOST) --port $(PORT)

# ---------------------------------------------------------------------- tests
# 1. SQLite (the default database of the test suite), in the foreground.
# 2. PostgreSQL, when TEST_POSTGRES_URL=postgresql+psycopg://user@host:port/db is set (browser
#    tests are not repeated there), at the same time: the two passes share no database, port nor
#    queue name, and side by side they take the time of the longer one instead of the sum (CI's
#    whole run was 22 minutes one after the other). Its output is kept in a file and printed when
#    both are done. Both must pass.
PG_PASS = TEST_DATABASE_URL="$$TEST_POSTGRES_URL" $(VPY) -m pytest -m "not browser" -p no:cacheprovider $(PYTEST_ARGS)
test: test-venv assets
	@if [ -z "$$TEST_POSTGRES_URL" ]; then \
		echo "(TEST_POSTGRES_URL not set: PostgreSQL pass skipped)"; \
		env -u TEST_DATABASE_URL $(VPY) -m pytest $(PYTEST_ARGS); \
		exit $$?; \
	fi; \
	pg_dir=$$(mktemp -d); \
	echo "== PostgreSQL pass ($$TEST_POSTGRES_URL) in the background, output in $$pg_dir/log:"; \
	echo '   TEST_DATABASE_URL=$$TEST_POSTGRES_URL $(VPY) -m pytest -m "not browser" $(PYTEST_ARGS)'; \
	( PYTEST_DEBUG_TEMPROOT="$$pg_dir" $(PG_PASS) >"$$pg_dir/log" 2>&1 ) & pg_pid=$$!; \
	trap 'kill $$pg_pid 2>/dev/null' INT TERM; \
	echo "== SQLite pass"; \
	env -u TEST_DATABASE_URL $(VPY) -m pytest $(PYTEST_ARGS); sqlite_rc=$$?; \
	wait $$pg_pid; pg_rc=$$?; \
	echo; echo "== PostgreSQL pass (exit $$pg_rc):"; cat "$$pg_dir/log"; rm -rf "$$pg_dir"; \
	echo; echo "== SQLite pass exit $$sqlite_rc, PostgreSQL pass exit $$pg_rc"; \
	[ $$sqlite_rc -eq 0 ] && [ $$pg_rc -eq 0 ]

# --------------------------------------------------------------- translations
# The compiled .mo files are committed beside the .po files, so that a plain
# `pip install` has them (tests/i18n/test_catalogues.py checks they match).
TRANSLATIONS := portal/translations
PYBABEL := $(VENV)/bin/pybabel
translations: venv
	$(PYBABEL) -q extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 --no-location \
		--sort-by-file --omit-header --ignore-dirs '.*' -o $(TRANSLATIONS)/messages.pot .
	for lang in fr pl; do \
		test -f $(TRANSLATIONS)/$$lang/LC_MESSAGES/messages.po || \
			$(PYBABEL) -q init -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l $$lang || exit 1; \
	done
	$(PYBABEL) -q update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching --ignore-obsolete
	$(PYBABEL) -q compile -d $(TRANSLATIONS)

# ----------------------------------------------------------------- benchmarks
bench: venv assets
	$(VPY) bench/run.py $(BENCH_ARGS)

# ---------------------------------------------------------------------- clean
clean:
	rm -rf $(VENV) node_modules .pytest_cache build .bench
	rm -rf *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
