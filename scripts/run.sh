#!/usr/bin/env bash
# Run Odoo with api_sync on http://127.0.0.1:${API_SYNC_PORT:-8069}, in the foreground.
#
#   scripts/run.sh                  # database ${API_SYNC_DB:-api_sync}: installed on first run,
#                                   # upgraded (-u api_sync) on the next ones
#   scripts/run.sh --dev=xml        # any argument goes to Odoo (install/upgrade step and server)
#
# Environment: API_SYNC_DB (default api_sync), API_SYNC_PORT (default 8069),
#              API_SYNC_WORKERS (default 0: threaded server),
#              DEMO=1 (a new database gets Odoo's demo data and api_sync's example data:
#              customers, products in stock in a POS, an API client; see README).
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

find_odoo
find_pg
export PGUSER="${PGUSER:-odoo}"

DB="${API_SYNC_DB:-api_sync}"
PORT="${API_SYNC_PORT:-8069}"
DATA_DIR="$STATE_DIR/data"
mkdir -p "$DATA_DIR"

readarray -t DB_ARGS < <(odoo_db_args)
odoo() {
    (cd "$ODOO_ROOT" && PYTHONPATH="$ODOO_ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m odoo \
        --addons-path="$ADDONS_PATH" --data-dir="$DATA_DIR" "${DB_ARGS[@]}" \
        -d "$DB" --db-filter="^${DB}\$" "$@")
}

# Is api_sync installed in $DB? (database missing, empty or module not installed: no)
state="$("${PG_BIN:+$PG_BIN/}psql" -X -qtA -d "$DB" -c \
    "SELECT state FROM ir_module_module WHERE name = 'api_sync'" 2>/dev/null || true)"
if [ "$state" = installed ] || [ "$state" = "to upgrade" ]; then
    [ "${DEMO:-0}" = 1 ] && echo "DEMO=1 only applies to a new database: database $DB exists" >&2
    echo "Upgrading api_sync in database $DB"
    odoo -u api_sync --stop-after-init --http-port="$PORT" --http-interface=127.0.0.1 "$@" \
        </dev/null || die "upgrading api_sync in database $DB failed (see the log above)"
else
    DEMO_ARGS=()
    if [ "${DEMO:-0}" = 1 ]; then
        DEMO_ARGS=(--with-demo)
        echo "Installing api_sync in database $DB, with demo data"
    else
        echo "Installing api_sync in database $DB"
    fi
    odoo -i api_sync "${DEMO_ARGS[@]}" --stop-after-init --http-port="$PORT" --http-interface=127.0.0.1 "$@" \
        </dev/null || die "installing api_sync in database $DB failed (see the log above)"
fi

cat <<EOF

  Odoo with api_sync:  http://127.0.0.1:$PORT/odoo    (database $DB)
  Log in:              admin / admin
  Try the API:         curl http://127.0.0.1:$PORT/api/sync/v1/ping
  Stop:                Ctrl-C

EOF
cd "$ODOO_ROOT"
PYTHONPATH="$ODOO_ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m odoo \
    --addons-path="$ADDONS_PATH" --data-dir="$DATA_DIR" "${DB_ARGS[@]}" \
    -d "$DB" --db-filter="^${DB}\$" --no-database-list \
    --http-interface=127.0.0.1 --http-port="$PORT" --workers="${API_SYNC_WORKERS:-0}" "$@"
