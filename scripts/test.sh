#!/usr/bin/env bash
# Install api_sync in a fresh database and run its tests.
#
#   scripts/test.sh                                   # all api_sync tests
#   scripts/test.sh --test-tags /api_sync:TestAuth    # replaces the default --test-tags
#   scripts/test.sh --log-level=debug                 # any other argument goes to Odoo
#
# Environment:
#   API_SYNC_TEST_DB    database name (default api_sync_test_<pid>); dropped first if it exists
#   API_SYNC_TEST_PORT  first HTTP port tried (default 8169; the next free one is used)
#   KEEP_DB=1           keep the database (and its filestore) after the run
#   VERBOSE=1           stream the whole log, not only warnings, errors and progress lines
#   API_SYNC_TEST_ALLOW_WARNINGS  regex of install-time WARNING messages to tolerate
#   API_SYNC_TEST_LOG   where to keep the full log (default .state/test.log)
#
# The full log is kept in .state/test.log. The last line printed is `N passed, N failed, N skipped`,
# counted in tests (methods): "failed" is the tests with a FAIL/ERROR (a method whose subTests
# fail counts once) plus class/module fixture errors; "skipped" is the `skipped ...` lines of
# unittest.skip* (a skipped class counts once); "passed" is Odoo's "of N tests" minus the failed
# and skipped methods.
# Exit status is non-zero when Odoo or PostgreSQL cannot be found, the module does not install,
# no test ran, a test failed or errored, an ERROR/CRITICAL line was logged, or a WARNING was
# logged outside the test runs (i.e. while installing/loading modules: "installs with no warning").
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

find_odoo
find_pg
export PGUSER="${PGUSER:-odoo}"

DB="${API_SYNC_TEST_DB:-api_sync_test_$$}"
[[ "$DB" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "invalid database name: $DB"
LOG="${API_SYNC_TEST_LOG:-$STATE_DIR/test.log}"
DATA_DIR="$STATE_DIR/data"
mkdir -p "$STATE_DIR" "$DATA_DIR"

# Extra arguments: a --test-tags given by the caller replaces the default one.
TEST_TAGS=(--test-tags /api_sync)
for arg in "$@"; do
    case "$arg" in --test-tags|--test-tags=*|-t) TEST_TAGS=() ;; esac
done

# First free TCP port on 127.0.0.1 from API_SYNC_TEST_PORT (HttpCase tests talk to it).
HTTP_PORT="$("$PYTHON" - "${API_SYNC_TEST_PORT:-8169}" <<'EOF'
import socket, sys
start = int(sys.argv[1])
for port in range(start, start + 200):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
else:
    sys.exit(f"no free TCP port in {start}..{start + 199}")
EOF
)" || die "cannot find a free HTTP port"

disposable_db

readarray -t DB_ARGS < <(odoo_db_args)
ODOO_CMD=(
    "$PYTHON" -m odoo
    --addons-path="$ADDONS_PATH"
    --data-dir="$DATA_DIR"
    "${DB_ARGS[@]}"
    -d "$DB" --db-filter="^${DB}\$"
    -i api_sync
    "${TEST_TAGS[@]}"
    --stop-after-init
    --http-interface=127.0.0.1 --http-port="$HTTP_PORT"
    --workers=0 --max-cron-threads=0
    --log-level=info
    "$@"
)
echo "Odoo:     $ODOO_ROOT"
echo "Database: $DB on ${PGHOST:-default host}:${PGPORT:-5432} (user $PGUSER), HTTP port $HTTP_PORT"
echo "Log:      $LOG"
echo "Running:  ${ODOO_CMD[*]}"

# Stream a short view of the log: WARNING and above (with their tracebacks) and progress lines.
# shellcheck disable=SC2016
STREAM_FILTER='
import os, re, sys
record = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (\S+) (\S+) (\S+): (.*)")
progress = re.compile(
    r"Initializing database|loading \d+ modules|Module api_sync loaded in|modules loaded in"
    r"|Starting post tests|post-tests in|when loading database|: (FAIL|ERROR): ")
verbose = os.environ.get("VERBOSE") == "1"
show = False
extra = 0
for line in sys.stdin:
    m = record.match(line)
    if m:
        level, _db, _logger, msg = m.groups()
        show = verbose or level in ("WARNING", "ERROR", "CRITICAL") or bool(progress.search(msg))
        extra = 0
    elif not show:
        continue
    else:
        extra += 1
        if extra > 60 and not verbose:
            if extra == 61:
                sys.stdout.write("    [... traceback cut, see the full log ...]\n")
            continue
    if show:
        sys.stdout.write(line)
'

set +e
(cd "$ODOO_ROOT" && PYTHONPATH="$ODOO_ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "${ODOO_CMD[@]}" </dev/null) 2>&1 \
    | tee "$LOG" | "$PYTHON" -u -c "$STREAM_FILTER"
STATUS=("${PIPESTATUS[@]}")
set -e
ODOO_RC="${STATUS[0]}"

release_db

# Judge the run from the full log; the last line printed is the count.
ODOO_RC="$ODOO_RC" DB="$DB" LOG="$LOG" "$PYTHON" - <<'EOF'
import os, re, sys

rc = int(os.environ["ODOO_RC"])
db = os.environ["DB"]
log = os.environ["LOG"]
record = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (\S+) (\S+) (\S+): (.*)")
summary = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database '(.*)'")
test_logger = re.compile(r"^odoo\.addons\.[^.]+\.tests(\.|$)")
# Install-time warnings that are about the machine, not the module. Extend with a regex in
# API_SYNC_TEST_ALLOW_WARNINGS (matched against the message).
allowed = [
    # setuptools' editable install of Odoo (pip install -e) puts its path hook in odoo.addons.__path__
    r"^addons path is not a directory: __editable__\.",
]
if os.environ.get("API_SYNC_TEST_ALLOW_WARNINGS"):
    allowed.append(os.environ["API_SYNC_TEST_ALLOW_WARNINGS"])
allowed = re.compile("|".join(f"(?:{a})" for a in allowed))

problems = []
errors = []            # ERROR / CRITICAL records
install_warnings = []  # WARNING records outside the test runs
test_warnings = 0      # WARNING records while tests run (reported, not fatal)
skipped_in_run = 0     # skipped test methods: counted in Odoo's "of N tests"
skipped_classes = 0    # skipped classes/modules (setUpClass SkipTest): not counted by Odoo
failed_tests = set()   # test methods with a FAIL/ERROR (a failed subTest counts for its method)
failed_fixtures = 0    # setUpClass/setUpModule/tearDown* errors: not counted in Odoo's "of N tests"
outcome = re.compile(r"^(FAIL|ERROR): (?:Subtest )?(\S+)")
counts = None
in_tests = False
with open(log, encoding="utf-8", errors="replace") as fh:
    for line in fh:
        m = record.match(line)
        if not m:
            continue
        level, _dbname, logger, msg = m.groups()
        msg = msg.rstrip()
        # Where are we: installing/loading modules, or running tests?
        if test_logger.match(logger) or (logger == "odoo.service.server"
                                         and msg.startswith("Starting post tests")):
            in_tests = True
        if msg.startswith("skipped "):
            if logger == "odoo.tests.suite":
                skipped_classes += 1
            elif test_logger.match(logger):
                skipped_in_run += 1
        o = outcome.match(msg) if level == "ERROR" else None
        if o and test_logger.match(logger):
            failed_tests.add((logger, o.group(2)))
        elif o and logger == "odoo.tests.suite":
            failed_fixtures += 1
        s = summary.search(msg)
        if s and s.group(4) == db:
            counts = tuple(int(x) for x in s.groups()[:3])
        elif level in ("ERROR", "CRITICAL"):
            errors.append(line.rstrip())
        elif level == "WARNING":
            if in_tests:
                test_warnings += 1
            elif not allowed.search(msg):
                install_warnings.append(line.rstrip())
        if logger == "odoo.modules.loading" and re.match(r"Module \S+ loaded in ", msg):
            in_tests = False  # end of a module's at_install tests
        elif logger == "odoo.service.server" and re.match(r"\d+ post-tests in ", msg):
            in_tests = False

failures = errs = run = 0
if counts is None:
    problems.append("no test summary line in the log: Odoo stopped before running the tests "
                    "(module failed to install?)")
else:
    failures, errs, run = counts
    if run == 0:
        problems.append("no test ran (check --test-tags and that tests/__init__.py imports the tests)")
    if failures or errs:
        problems.append(f"{failures} test failure(s), {errs} test error(s)")
if rc != 0:
    problems.append(f"Odoo exited with status {rc}")
if any("Failed to initialize database" in e for e in errors):
    problems.append("the module failed to install (Failed to initialize database)")
if errors:
    problems.append(f"{len(errors)} ERROR/CRITICAL log line(s), first ones:")
    problems.extend("    " + e[:300] for e in errors[:10])
if install_warnings:
    problems.append(f"{len(install_warnings)} WARNING line(s) while installing/loading "
                    "(the module must install without warnings):")
    problems.extend("    " + w[:300] for w in install_warnings[:10])
if test_warnings:
    print(f"note: {test_warnings} WARNING line(s) logged while tests ran (not fatal)")

# Odoo's failure/error counts are per failed test *part* (each failed subTest, plus the method
# itself if it fails after them; fixture errors are not in "of N tests"): count tests instead.
failed = len(failed_tests) + failed_fixtures
if failed == 0 and failures + errs:
    failed = failures + errs      # could not read the FAIL/ERROR lines: trust Odoo's count
passed = max(run - len(failed_tests) - skipped_in_run, 0)
skipped = skipped_in_run + skipped_classes
if problems:
    print("FAILED, see " + log + ":")
    for p in problems:
        print("  " + p)
else:
    print(f"OK: {run} test(s) ran in database {db}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if problems else 0)
EOF
