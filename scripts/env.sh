# shellcheck shell=bash
# Sourced by the other scripts: locates Odoo 19 and a PostgreSQL server.
#
# Odoo:       $ODOO_ROOT (a source checkout holding odoo/ and addons/), or whatever
#             `python3 -c "import odoo"` finds.
# PostgreSQL: $PGHOST/$PGPORT/$PGUSER when a server answers there; otherwise an embedded
#             cluster in $API_SYNC_STATE/pg (default .state/pg), started on demand.
set -euo pipefail

ADDON_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ADDONS_PARENT="$(dirname "$ADDON_DIR")"
STATE_DIR="${API_SYNC_STATE:-$ADDON_DIR/.state}"
PYTHON="${PYTHON:-python3}"

die() { echo "error: $*" >&2; exit 2; }

find_odoo() {
    if [ -z "${ODOO_ROOT:-}" ]; then
        ODOO_ROOT="$("$PYTHON" -c 'import os, odoo; print(os.path.dirname(list(odoo.__path__)[0]))' 2>/dev/null || true)"
    fi
    if [ -z "$ODOO_ROOT" ] || [ ! -d "$ODOO_ROOT/odoo/addons" ]; then
        die "Odoo 19 not found. Install it from source (pip install -r requirements.txt; pip install -e .)
       so that \`$PYTHON -c \"import odoo\"\` works, or set ODOO_ROOT=/path/to/odoo-19.0-source."
    fi
    local version
    version="$(cd "$ODOO_ROOT" && "$PYTHON" -c 'import odoo.release as r; print(r.version)')" \
        || die "cannot import odoo from $ODOO_ROOT (missing Python requirements?)"
    case "$version" in 19.*) ;; *) die "Odoo 19 required, found $version at $ODOO_ROOT" ;; esac
    # The addon's folder name must be its technical name for Odoo's addons path.
    [ "$(basename "$ADDON_DIR")" = api_sync ] || {
        mkdir -p "$STATE_DIR/addons"
        ln -sfn "$ADDON_DIR" "$STATE_DIR/addons/api_sync"
        ADDONS_PARENT="$STATE_DIR/addons"
    }
    # ($ODOO_ROOT/addons only exists in a source checkout, not in a wheel install)
    ADDONS_PATH="$ODOO_ROOT/odoo/addons,$ADDONS_PARENT"
    [ -d "$ODOO_ROOT/addons" ] && ADDONS_PATH="$ODOO_ROOT/addons,$ADDONS_PATH"
    export ODOO_ROOT ADDONS_PATH
}

pg_bin() {
    local dir version=""
    # An existing embedded cluster needs the binaries of its own major version;
    # otherwise take the newest installed one (version order, not text order: 9.6 < 15).
    [ -f "$STATE_DIR/pg/PG_VERSION" ] && version="$(cat "$STATE_DIR/pg/PG_VERSION")"
    if [ -n "$version" ] && [ -x "/usr/lib/postgresql/$version/bin/initdb" ]; then
        PG_BIN="/usr/lib/postgresql/$version/bin"
    fi
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
        [ -z "$version" ] && [ -x "$dir/initdb" ] && PG_BIN="$dir"
    done
    [ -n "${PG_BIN:-}" ] || command -v initdb >/dev/null && PG_BIN="${PG_BIN:-$(dirname "$(command -v initdb)")}"
    [ -n "${PG_BIN:-}" ] || die "PostgreSQL not found. Install it (Debian: apt-get install postgresql-15)
       or point PGHOST/PGPORT/PGUSER/PGPASSWORD at a running server."
}

# Run a PostgreSQL server binary as a non-root user (the server refuses to run as root).
as_pg_owner() {
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to run
       the embedded PostgreSQL server (Debian: apt-get install postgresql-15 creates it)"
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_embedded_pg() {
    pg_bin
    local data="$STATE_DIR/pg" real
    export PGPORT="${API_SYNC_PGPORT:-54329}" PGUSER=odoo
    unset PGPASSWORD
    [ -L "$data" ] && [ ! -e "$data" ] && rm -f "$data"   # its /tmp target is gone (reboot)
    if [ ! -e "$data" ]; then
        mkdir -p "$data"
        [ "$(id -u)" = 0 ] && chown postgres: "$data"
        # The server runs as postgres when we are root and puts its socket in the data directory:
        # if postgres cannot reach $data (e.g. a checkout under /root) or the socket path would be
        # too long for a unix socket (~107 bytes), keep the cluster in /tmp behind a symlink.
        if ! as_pg_owner test -w "$data" || [ "${#data}" -gt 80 ]; then
            rmdir "$data"
            real="${TMPDIR:-/tmp}/api_sync_pg_$(printf '%s' "$STATE_DIR" | cksum | cut -d' ' -f1)"
            mkdir -p "$real"
            [ "$(id -u)" = 0 ] && chown postgres: "$real"
            ln -s "$real" "$data"
        fi
    fi
    data="$(readlink -f "$data")"
    export PGHOST="$data"
    if [ ! -f "$data/PG_VERSION" ]; then
        mkdir -p "$data"
        [ "$(id -u)" = 0 ] && chown postgres: "$data"
        as_pg_owner "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
        {
            echo "listen_addresses = ''"
            echo "unix_socket_directories = '$data'"
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
            echo "max_connections = 100"
        } >> "$data/postgresql.conf"
    fi
    if ! "$PG_BIN/pg_isready" -q -h "$data" -p "$PGPORT"; then
        echo "Starting embedded PostgreSQL in $data (port $PGPORT)"
        as_pg_owner "$PG_BIN/pg_ctl" -D "$data" -o "-p $PGPORT" -l "$data/server.log" -w start >/dev/null
    fi
    "$PG_BIN/psql" -h "$data" -p "$PGPORT" -U postgres -d postgres -qtAc \
        "SELECT 1 FROM pg_roles WHERE rolname = 'odoo'" | grep -q 1 \
        || "$PG_BIN/psql" -h "$data" -p "$PGPORT" -U postgres -d postgres -qc \
            "CREATE ROLE odoo LOGIN SUPERUSER" >/dev/null
}

find_pg() {
    if [ -n "${PGHOST:-}${PGPORT:-}" ] && command -v pg_isready >/dev/null \
        && pg_isready -q; then
        return 0
    fi
    start_embedded_pg
}

odoo_db_args() {
    local args=(--db_user "${PGUSER:-odoo}")
    # (find_pg accepts PGHOST or PGPORT alone: libpq defaults fill in the other one)
    [ -n "${PGHOST:-}" ] && args+=(--db_host "$PGHOST")
    [ -n "${PGPORT:-}" ] && args+=(--db_port "$PGPORT")
    [ -n "${PGPASSWORD:-}" ] && args+=(--db_password "$PGPASSWORD")
    printf '%s\n' "${args[@]}"
}

# Administrative psql on the server found by find_pg.
psql_admin() {
    PGOPTIONS="-c client_min_messages=warning" "${PG_BIN:+$PG_BIN/}psql" -X -q \
        -v ON_ERROR_STOP=1 -d postgres "$@"
}

# A database that exists for one run: dropped (with its filestore) now and on exit, unless
# KEEP_DB=1. Needs DB and DATA_DIR.
drop_db() {
    psql_admin -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null
    rm -rf "${DATA_DIR:?}/filestore/$DB"
}
# shellcheck disable=SC2317  # (called through the EXIT trap)
release_db() {
    trap - EXIT INT TERM
    if [ "${KEEP_DB:-0}" = 1 ]; then
        echo "KEEP_DB=1: keeping database $DB (filestore in $DATA_DIR/filestore/$DB)"
    else
        drop_db || echo "warning: could not drop database $DB" >&2
    fi
}
disposable_db() {
    drop_db || die "cannot reach PostgreSQL as user ${PGUSER:-} to drop/create database $DB"
    trap release_db EXIT
    trap 'exit 130' INT TERM
}
