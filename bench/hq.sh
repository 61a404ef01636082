#!/usr/bin/env bash
# Bench of the HQ connector (issue #10) on its own: `bash bench/hq.sh [--orders N]`.
#
# Creates a fresh database with api_sync installed (dropped first; KEEP_DB=1 keeps it after the
# run), then runs bench/hq.py in-process: 1,000 paid POS orders pushed through the outbox to the
# HQ double; prints orders per second and the logins/refreshes HQ saw (bench/results/hq.txt).
#
# Environment: API_SYNC_BENCH_DB (default api_sync_bench_hq), KEEP_DB=1.
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"

find_odoo
find_pg
export PGUSER="${PGUSER:-odoo}"

DB="${API_SYNC_BENCH_DB:-api_sync_bench_hq}"
DATA_DIR="$STATE_DIR/data"
RESULTS="$ADDON_DIR/bench/results"
INSTALL_LOG="$RESULTS/hq_install.log"
mkdir -p "$DATA_DIR" "$RESULTS"

disposable_db

readarray -t DB_ARGS < <(odoo_db_args)
export PYTHONPATH="$ODOO_ROOT${PYTHONPATH:+:$PYTHONPATH}"

echo "Installing api_sync in a fresh database $DB (log: $INSTALL_LOG) ..."
if ! (cd "$ODOO_ROOT" && exec "$PYTHON" -m odoo \
        --addons-path="$ADDONS_PATH" --data-dir="$DATA_DIR" "${DB_ARGS[@]}" \
        -d "$DB" --db-filter="^${DB}\$" -i api_sync --stop-after-init \
        --http-interface=127.0.0.1 --workers=0 --max-cron-threads=0 --log-level=warn \
        </dev/null >"$INSTALL_LOG" 2>&1); then
    tail -n 30 "$INSTALL_LOG" >&2
    die "installing api_sync in database $DB failed (see $INSTALL_LOG)"
fi

cd "$ODOO_ROOT"
"$PYTHON" "$ADDON_DIR/bench/hq.py" --db "$DB" --addons-path "$ADDONS_PATH" \
    --data-dir "$DATA_DIR" --results "$RESULTS" "$@" -- "${DB_ARGS[@]}"
