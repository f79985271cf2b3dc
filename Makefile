# Two commands for a fresh machine with Python 3.11+ and make: `make run` and `make test`.
# The first interpreter that really runs and is 3.11+ (a pyenv shim may exist but not run).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; \
	done)
VENV := .venv
BIN := $(VENV)/bin
# The browser bundles of the pages and the API docs (Chart.js, Swagger UI, ReDoc), fetched
# from the npm registry at the versions assets/ pins; not in git.
VENDOR := src/travel_recharge/web/static/vendor
ASSETS := $(VENDOR)/.fetched
# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The cluster's engines (`travel-recharge cluster`, tests/cluster) are Debian's packages;
# PostgreSQL 15 too, unless the machine already has its binaries.
CLUSTER_DEPS := $(VENV)/.cluster-deps
CLUSTER_PACKAGES := patroni etcd-server haproxy redis-server redis-sentinel
POSTGRES_BIN := /usr/lib/postgresql/15/bin
# The alert rules are checked by Debian's promtool and amtool, and one test scrapes the
# service with a real Prometheus (tests/observability/test_alerting.py).
PROMTOOL ?= /usr/bin/promtool
AMTOOL ?= /usr/bin/amtool

.PHONY: run test lint typecheck unit assets clean cluster-deps cluster cluster-down mutation \
	mutation-money

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-install only when the dependencies change.
$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(VENV)/.runtime $@

$(ASSETS): assets/package.json assets/package-lock.json assets/copy-vendor.sh
	cd assets && npm ci --loglevel=error
	sh assets/copy-vendor.sh assets/node_modules $(VENDOR)
	touch $@

assets: $(ASSETS)

$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests"
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
	|| { $(SUDO) apt-get update -q && \
	     $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

$(CLUSTER_DEPS): | $(BIN)/python
	@echo "installing Debian's $(CLUSTER_PACKAGES) for the cluster"
	packages="$(CLUSTER_PACKAGES)"; \
	[ -x $(POSTGRES_BIN)/postgres ] || packages="$$packages postgresql-15"; \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$packages \
	|| { $(SUDO) apt-get update -q && \
	     $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$packages; }
	touch $@

$(PROMTOOL):
	@echo "installing Debian's prometheus (promtool) for the alert rule tests"
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
	|| { $(SUDO) apt-get update -q && \
	     $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; }

$(AMTOOL):
	@echo "installing Debian's prometheus-alertmanager (amtool) for the Alertmanager configuration test"
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus-alertmanager \
	|| { $(SUDO) apt-get update -q && \
	     $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus-alertmanager; }

cluster-deps: $(CLUSTER_DEPS)

# Patroni + etcd, HAProxy, Redis Sentinel and three API nodes on this machine, with the demo
# data; `travel-recharge cluster status` shows it, `make cluster-down` stops it.
cluster: $(VENV)/.runtime $(ASSETS) $(CLUSTER_DEPS)
	$(BIN)/travel-recharge cluster up --demo

cluster-down: $(VENV)/.runtime
	$(BIN)/travel-recharge cluster down

run: $(VENV)/.runtime $(ASSETS)
	$(BIN)/travel-recharge serve

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests loadtest
	$(BIN)/ruff format --check src tests loadtest
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev
	$(BIN)/mypy

unit: $(VENV)/.dev $(ASSETS) $(CHROMIUM) $(CLUSTER_DEPS) $(PROMTOOL) $(AMTOOL)
	$(BIN)/pytest

test: lint typecheck unit

# Mutation testing (README "Mutation testing"); minutes long, so not part of `make test`.
# The fare engine against its pure tests, as pyproject's [tool.mutmut] says; fails under 90%.
mutation: $(VENV)/.dev
	rm -rf mutants
	$(BIN)/mutmut run
	$(BIN)/python -m tests.mutation score --fail-under 90

# The money services against their tests on real PostgreSQL and Redis (TR_TEST_* must point at
# them: an embedded server per mutant would take minutes). MONEY_MUTATE picks fewer modules.
MONEY_MUTATE ?= src/travel_recharge/cards/service.py src/travel_recharge/trips/service.py \
	src/travel_recharge/finance/service.py
# Tests elsewhere that check what the money services hand on: the business counters (fares,
# transfers, credit trips, recharged pesos), the audit of a block, and the cards service's
# access and identity helpers (a card's owner, a rider's cards, the demo rider).
MONEY_TESTS ?= tests/cards tests/trips tests/finance tests/observability/test_business_metrics.py \
	tests/security/test_audit.py::test_card_blocks_name_who_blocked_but_not_the_reason \
	tests/security/test_tokens.py::test_a_rider_token_reads_their_own_cards_and_no_one_elses \
	tests/security/test_keys_and_demo.py::test_demo_mode_makes_one_account_per_role_and_writes_them_owner_only
# The HTTP state machine (a minute per run) is left out: every tap mutant would run it.
MONEY_SKIP ?= tests/trips/test_fare_model_http.py::test_random_days_through_the_api_match_the_reference_model
mutation-money: $(VENV)/.dev
	@test -n "$$TR_TEST_DATABASE_URL" -a -n "$$TR_TEST_REDIS_URL" || \
	{ echo "set TR_TEST_DATABASE_URL and TR_TEST_REDIS_URL (README \"Tests\")"; exit 1; }
	$(BIN)/python -m tests.mutation scratch --mutate $(MONEY_MUTATE) --tests $(MONEY_TESTS) \
		--skip $(MONEY_SKIP)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache assets/node_modules $(VENDOR) mutants \
		.mutation-money
