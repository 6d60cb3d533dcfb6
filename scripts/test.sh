#!/usr/bin/env bash
# Runs the full test suite against the pocosmtp installed in .venv by
# scripts/bootstrap.sh (the installed package, not the source tree).
# Extra arguments go to pytest, e.g. scripts/test.sh -k session -x
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [[ ! -x .venv/bin/python ]]; then
    echo "test: no .venv here; run scripts/bootstrap.sh first" >&2
    exit 1
fi
exec .venv/bin/python -m pytest "$@"
