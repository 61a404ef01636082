#!/usr/bin/env bash
# `make check-setup`: the README's two commands on a simulated fresh machine. In a scratch
# directory, from a fresh clone of this repository's HEAD (commit first), with a Python that
# cannot import Odoo first on a PATH without PostgreSQL server binaries, no PGHOST/PGPORT/
# ODOO_ROOT and API_SYNC_PG_SEARCH=0: `make test` must end with "N passed, 0 failed", then
# `make run` must answer /api/sync/v1/ping. Prints the time of each step. Not run by CI: it
# downloads Python packages and Odoo (several hundred MB) and takes a while.
#
#   scripts/check_setup.sh                                   # the whole suite
#   scripts/check_setup.sh --test-tags /api_sync:TestPing    # arguments go to `make test`
#
# Environment:
#   ODOO_GIT_URL    where Odoo is cloned from (default: Odoo's official repository); offline,
#                   a local git repository (a path) holding an Odoo 19.0 tree on branch 19.0
#   ODOO_REVISION   the commit to check out when that repository lacks the pinned one
#   API_SYNC_CHECK_DIR  scratch directory (default: a new one under ${TMPDIR:-/tmp})
#   KEEP=1          keep the scratch directory (its .state/ is always cleaned)
set -euo pipefail
ADDON_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
START=$SECONDS
TIMINGS=()
RUN_PID=""

timed() {  # timed NAME COMMAND...: run, print and record its duration
    local name="$1" t0=$SECONDS rc=0
    shift
    echo
    echo "=== $name"
    "$@" || rc=$?
    TIMINGS+=("$(printf '%-58s %5d s%s' "$name" $((SECONDS - t0)) "$([ "$rc" = 0 ] || echo "  FAILED ($rc)")")")
    echo "=== $name: $((SECONDS - t0)) s$([ "$rc" = 0 ] || echo ", FAILED ($rc)")"
    return "$rc"
}

SCRATCH="${API_SYNC_CHECK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/api_sync_check.XXXXXX")}"
mkdir -p "$SCRATCH"
CLONE="$SCRATCH/api_sync"

# shellcheck disable=SC2317  # (called through the EXIT trap)
finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$RUN_PID" ]; then kill -TERM -- "-$RUN_PID" 2>/dev/null || true; wait "$RUN_PID" 2>/dev/null || true; fi
    if [ -f "$CLONE/Makefile" ]; then (cd "$CLONE" && in_fresh_env make clean >/dev/null) || true; fi
    if [ "${KEEP:-0}" = 1 ]; then echo "KEEP=1: scratch directory kept: $SCRATCH"; else rm -rf "$SCRATCH"; fi
    echo
    echo "check-setup timings:"
    printf '  %s\n' "${TIMINGS[@]}"
    printf '  %-58s %5d s\n' "total" $((SECONDS - START))
    if [ "$rc" = 0 ]; then echo "check-setup: OK"; else echo "check-setup: FAILED"; fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# The simulated fresh machine: a Python without Odoo, no PostgreSQL server binaries on PATH,
# none of the overrides set except the Odoo source and revision.
BARE="$SCRATCH/python"
FRESH_PATH="$BARE/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FRESH_ENV=(env -u ODOO_ROOT -u PGHOST -u PGPORT -u PGUSER -u PGPASSWORD -u PGDATABASE -u PYTHON
    -u PYTHONPATH -u VIRTUAL_ENV -u API_SYNC_STATE -u API_SYNC_PGPORT -u API_SYNC_PORT
    PATH="$FRESH_PATH" API_SYNC_PG_SEARCH=0 ODOO_GIT_URL="${ODOO_GIT_URL:-}"
    ODOO_REVISION="${ODOO_REVISION:-}")
in_fresh_env() { "${FRESH_ENV[@]}" "$@"; }

prepare() {
    [ -z "$(git -C "$ADDON_DIR" status --porcelain --untracked-files=no)" ] \
        || echo "warning: uncommitted changes are not checked (the clone is of HEAD)"
    git clone --quiet "$ADDON_DIR" "$CLONE"
    git -C "$CLONE" checkout --quiet --detach "$(git -C "$ADDON_DIR" rev-parse HEAD)"
    echo "clone of $(git -C "$CLONE" rev-parse --short HEAD) in $CLONE"
    # A Python of the same version that does not see this machine's site-packages.
    python3 -m venv --without-pip "$BARE"
    if in_fresh_env python3 -c 'import odoo' 2>/dev/null; then
        echo "error: python3 still imports odoo in the simulated environment" >&2
        return 1
    fi
    if in_fresh_env bash -c 'command -v initdb || command -v pg_ctl'; then
        echo "error: PostgreSQL server binaries are still on PATH" >&2
        return 1
    fi
    echo "PATH=$FRESH_PATH: python3 imports no odoo, no initdb/pg_ctl; API_SYNC_PG_SEARCH=0"
    echo "ODOO_GIT_URL=${ODOO_GIT_URL:-(default)} ODOO_REVISION=${ODOO_REVISION:-(pinned)}"
}

run_tests() {
    (cd "$CLONE" && in_fresh_env make test ARGS="$*") </dev/null 2>&1 | tee "$SCRATCH/make-test.log"
    tail -n1 "$SCRATCH/make-test.log" | grep -Eq '^[0-9]+ passed, 0 failed' || {
        echo "error: make test did not end with 'N passed, 0 failed'" >&2
        return 1
    }
}

# Time to find (not set up) Odoo, its Python and PostgreSQL once everything is in .state/.
second_start() {
    # shellcheck disable=SC2016  # (expanded by the inner shell)
    (cd "$CLONE" && in_fresh_env bash -c 'source scripts/env.sh; find_odoo; find_pg;
        echo "Odoo $ODOO_ROOT, Python $PYTHON, PostgreSQL binaries $PG_BIN"')
}

run_until_ping() {
    local port deadline=$((SECONDS + 900)) answer=""
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    (cd "$CLONE" && exec setsid "${FRESH_ENV[@]}" API_SYNC_PORT="$port" make run \
        </dev/null >"$SCRATCH/make-run.log" 2>&1) &
    RUN_PID=$!
    echo "make run (log: $SCRATCH/make-run.log), polling http://127.0.0.1:$port/api/sync/v1/ping"
    until answer="$(python3 -c 'import sys, urllib.request as u
print(u.urlopen(sys.argv[1], timeout=5).read().decode())' \
            "http://127.0.0.1:$port/api/sync/v1/ping" 2>/dev/null)"; do
        if ! kill -0 "$RUN_PID" 2>/dev/null; then
            tail -n 30 "$SCRATCH/make-run.log"
            echo "error: make run stopped before answering" >&2
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 30 "$SCRATCH/make-run.log"
            echo "error: no answer from /api/sync/v1/ping within 900 s" >&2
            return 1
        fi
        sleep 1
    done
    grep -E '^(==>|    \(|    done|    note)' "$SCRATCH/make-run.log" || true
    echo "ping: $answer"
    kill -TERM -- "-$RUN_PID" 2>/dev/null || true
    wait "$RUN_PID" 2>/dev/null || true
    RUN_PID=""
}

timed "prepare the scratch clone and environment" prepare
timed "make test (first run: sets up Odoo, venv, PostgreSQL)" run_tests "$@"
timed "second run: finding Odoo, Python and PostgreSQL" second_start
timed "make run until /api/sync/v1/ping answers" run_until_ping
