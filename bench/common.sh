# shellcheck shell=bash
# Sourced by the bench scripts: Odoo and PostgreSQL found (scripts/env.sh), then
# `bench_database NAME INSTALL_LOG` creates a disposable database NAME with api_sync installed.
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"

find_odoo
find_pg
export PGUSER="${PGUSER:-odoo}"
DATA_DIR="$STATE_DIR/data"
RESULTS="$ADDON_DIR/bench/results"
mkdir -p "$DATA_DIR" "$RESULTS"

bench_database() {
    DB="$1"
    local install_log="$2" started=$SECONDS
    disposable_db
    readarray -t DB_ARGS < <(odoo_db_args)
    export PYTHONPATH="$ODOO_ROOT${PYTHONPATH:+:$PYTHONPATH}"
    echo "Installing api_sync in a fresh database $DB on ${PGHOST:-}:${PGPORT:-} (log: $install_log) ..."
    if ! (cd "$ODOO_ROOT" && exec "$PYTHON" -m odoo \
            --addons-path="$ADDONS_PATH" --data-dir="$DATA_DIR" "${DB_ARGS[@]}" \
            -d "$DB" --db-filter="^${DB}\$" -i api_sync --stop-after-init \
            --http-interface=127.0.0.1 --workers=0 --max-cron-threads=0 --log-level=warn \
            </dev/null >"$install_log" 2>&1); then
        tail -n 30 "$install_log" >&2
        die "installing api_sync in database $DB failed (see $install_log)"
    fi
    echo "Installed in $((SECONDS - started)) s"
}
