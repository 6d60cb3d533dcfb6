#!/usr/bin/env bash
# The type checks CI runs (well under a minute), each failing the script:
#   1. python/pocosmtp/_pocosmtp.pyi is exactly what scripts/stubgen.py makes
#      from the installed extension (signatures, docstrings, new names);
#   2. mypy.stubtest finds the stub and the installed extension consistent
#      (scripts/stubtest-allowlist.txt lists the differences made on purpose);
#   3. mypy --strict ([tool.mypy] in pyproject.toml) on examples/ and the
#      package, for the oldest Python pocosmtp supports;
#   4. mypy on the tests, for the Python running them (pytest 9 is newer than
#      3.9): every call into pocosmtp is checked, and the test modules listed
#      in pyproject.toml's [[tool.mypy.overrides]] are held to all of strict.
# Needs the typecheck extra: pip install -e '.[typecheck]' or '.[test]'.
# After a change to the bindings: .venv/bin/python scripts/stubgen.py
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-$root/.venv/bin/python}
mypy=("$python" -m mypy --cache-dir build/mypy-cache)

step() { printf '==> %s\n' "$*"; }

step "stub up to date with the installed extension"
"$python" scripts/stubgen.py --check

step "stubtest"
# MYPYPATH: the stub from this tree; the runtime is the installed extension.
MYPYPATH=python "$python" -m mypy.stubtest pocosmtp._pocosmtp \
    --mypy-config-file pyproject.toml --allowlist scripts/stubtest-allowlist.txt

step "mypy --strict: examples, package"
"${mypy[@]}" examples python/pocosmtp

version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
step "mypy, Python $version: tests"
"${mypy[@]}" --python-version "$version" --allow-untyped-defs --allow-incomplete-defs \
    --allow-untyped-calls --allow-any-generics --no-warn-return-any tests
