#!/usr/bin/env bash
# Bench of the HQ connector (issue #10) on its own: `bash bench/hq.sh [--orders N]`.
#
# Creates a fresh database with api_sync installed (dropped first; KEEP_DB=1 keeps it after the
# run), then runs bench/hq.py (Odoo in-process, the HQ double in a process of its own): 1,000
# paid POS orders pushed through the outbox to the double; prints orders per second, the
# logins/refreshes HQ saw and the double's own ceiling (bench/results/hq.txt).
#
# Environment: API_SYNC_BENCH_DB (default api_sync_bench_hq), KEEP_DB=1.
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bench_database "${API_SYNC_BENCH_DB:-api_sync_bench_hq}" "$RESULTS/hq_install.log"

cd "$ODOO_ROOT"
"$PYTHON" "$ADDON_DIR/bench/hq.py" --db "$DB" --addons-path "$ADDONS_PATH" \
    --data-dir "$DATA_DIR" --results "$RESULTS" "$@" -- "${DB_ARGS[@]}"
