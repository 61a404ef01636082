#!/usr/bin/env bash
# Benchmarks of api_sync (issues 2-4, 8-10) against Odoo's ORM and /json/2: `make bench`.
#
# 1. finds Odoo 19 and PostgreSQL (scripts/env.sh; the embedded cluster is started if needed),
# 2. creates a fresh database (dropped first) with api_sync installed,
# 3. runs bench/run.py: it starts a real Odoo server (--workers=2 --max-cron-threads=1) and a
#    local webhook receiver on 127.0.0.1, measures, stops them and prints the table (also
#    written to bench/results/latest.txt),
# 4. pushes 1,000 paid POS orders to the HQ double in that database (bench/hq.py, figures in
#    bench/results/hq.txt), then the Tactill figures in a database of its own
#    (bench/connectors.py, bench/results/tactill.txt),
# 5. drops the databases (KEEP_DB=1 keeps them).
#
# Environment:
#   API_SYNC_BENCH_DB    database name (default api_sync_bench)
#   API_SYNC_BENCH_PORT  first TCP port tried for Odoo's HTTP and gevent ports (default 18869)
#   KEEP_DB=1            keep the database after the run
#   BENCH_QUICK=1        fewer requests (a smoke run of the script, figures less stable)
#   BENCH_SERVER_LOG_LEVEL  log level of the benchmarked server (default warn; its log is
#                        bench/results/server.log, the install's bench/results/install.log)
# Arguments are passed to bench/run.py (see `python3 bench/run.py --help`).
# Benchmarks are not tests: the exit status is non-zero only when a measurement could not run.
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bench_database "${API_SYNC_BENCH_DB:-api_sync_bench}" "$RESULTS/install.log"
echo "Odoo:     $ODOO_ROOT"

cd "$ODOO_ROOT"
set +e
"$PYTHON" "$ADDON_DIR/bench/run.py" \
    --db "$DB" \
    --addons-path "$ADDONS_PATH" \
    --data-dir "$DATA_DIR" \
    --results "$RESULTS" \
    --port-start "${API_SYNC_BENCH_PORT:-18869}" \
    "$@" \
    -- "${DB_ARGS[@]}"
rc=$?
# HQ connector (issue #10): 1,000 paid POS orders pushed to the HQ double, same database;
# with --only (or BENCH_ONLY), only when the list names "hq" (and "tactill" below)
only="${BENCH_ONLY:-}"
args=("$@")
for i in "${!args[@]}"; do
    case "${args[$i]}" in
        --only) only="${args[$((i + 1))]:-}" ;;
        --only=*) only="${args[$i]#--only=}" ;;
    esac
done
if [ -z "$only" ] || [[ ",$only," == *",hq,"* ]]; then
    "$PYTHON" "$ADDON_DIR/bench/hq.py" --db "$DB" --addons-path "$ADDONS_PATH" \
        --data-dir "$DATA_DIR" --results "$RESULTS" -- "${DB_ARGS[@]}" || rc=1
fi
# Tactill connector (issue #9), in the same run: a database of its own (both connector
# benches create their POS fixtures); figures in bench/results/tactill.txt
if [ -z "$only" ] || [[ ",$only," == *",tactill,"* ]]; then
    release_db
    bench_database "${DB}_tactill" "$RESULTS/tactill_install.log"
    "$PYTHON" "$ADDON_DIR/bench/connectors.py" -d "$DB" -- --addons-path="$ADDONS_PATH" \
        --data-dir="$DATA_DIR" "${DB_ARGS[@]}" | tee "$RESULTS/tactill.txt" || rc=1
fi
set -e
exit "$rc"
