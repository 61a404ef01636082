#!/usr/bin/env bash
# Lint the addon: ruff (pyproject.toml) and pylint with pylint-odoo (.pylintrc) on the Python
# files and the manifest, plus shellcheck on the scripts when shellcheck is installed.
# Extra arguments go to pylint, e.g. `scripts/lint.sh --disable=prefer-env-translation`.
# Exit status: non-zero if any linter reports something.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

PYTHON="${PYTHON:-python3}"
missing=()
command -v ruff >/dev/null || missing+=(ruff)
"$PYTHON" -c 'import pylint_odoo' 2>/dev/null || missing+=(pylint-odoo)
if [ ${#missing[@]} -gt 0 ]; then
    echo "error: ${missing[*]} not installed: $PYTHON -m pip install ruff pylint-odoo" >&2
    exit 2
fi

# The addon's Python files: tracked ones plus new, not ignored ones (never .state/).
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    readarray -t PY_FILES < <(git ls-files --cached --others --exclude-standard -- '*.py' \
        | grep -v '^\.state/' | while read -r f; do [ -f "$f" ] && echo "$f"; done)
else
    readarray -t PY_FILES < <(find . -path ./.state -prune -o -path ./.git -prune \
        -o -name '*.py' -type f -print | sed 's|^\./||' | sort)
fi

status=0
echo "== ruff check"
ruff check . || status=1

echo "== pylint (pylint-odoo) on ${#PY_FILES[@]} files"
color=()
[ -t 1 ] && color=(--output-format=colorized)
"$PYTHON" -m pylint --rcfile=.pylintrc "${color[@]}" "$@" "${PY_FILES[@]}" || status=1

if command -v shellcheck >/dev/null; then
    echo "== shellcheck"
    shellcheck -x scripts/*.sh .ci/run || status=1
else
    echo "== shellcheck: not installed, skipped"
fi

if [ "$status" = 0 ]; then echo "lint: OK"; else echo "lint: problems found (see above)"; fi
exit "$status"
