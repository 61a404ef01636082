#!/usr/bin/env bash
# A backlog longer than one dispatcher run (issue #8): `bash bench/handover.sh [--products N]`.
#
# Creates a fresh database with api_sync installed (dropped first; KEEP_DB=1 keeps it after the
# run), then runs bench/handover.py: 5 webhooks, one commit queuing 12,000 deliveries to a
# receiver answering in 200 ms, sent by a prefork server's cron worker alone, with Odoo's
# default real-time limit. Prints the time to receive them, the deliveries sent again, the
# cron worker's kills by the watchdog and the dispatcher's runs (bench/results/handover.txt).
#
# Environment: API_SYNC_BENCH_DB (default api_sync_bench_handover), KEEP_DB=1.
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bench_database "${API_SYNC_BENCH_DB:-api_sync_bench_handover}" "$RESULTS/handover_install.log"

cd "$ODOO_ROOT"
"$PYTHON" "$ADDON_DIR/bench/handover.py" --db "$DB" --addons-path "$ADDONS_PATH" \
    --data-dir "$DATA_DIR" --results "$RESULTS" "$@" -- "${DB_ARGS[@]}" \
    | tee "$RESULTS/handover.txt"
