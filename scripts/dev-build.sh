#!/usr/bin/env bash
# Developer loop: rebuild the extension in build/dev and drop it into
# python/pocosmtp/, so `PYTHONPATH=python pytest` tests the working tree.
# Serialised with a lock because several builds may share the folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv
export PATH=$venv/bin:$PATH
exec 9>"$root/build/.dev-build.lock"
flock 9
# pybind11 is a build requirement that pip installs only into its isolated
# build environment; the developer build needs it in .venv.
"$venv/bin/python" -c "import pybind11" 2>/dev/null ||
    "$venv/bin/python" -m pip install -q "pybind11>=3.0"
# The package version, as pip's build passes it: the stub (typecheck.sh)
# records __version__, so a dev build must report the same.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/pyproject.toml")
if [[ ! -f $root/build/dev/build.ninja ]] ||
    ! grep -q "^SKBUILD_PROJECT_VERSION:UNINITIALIZED=$version$" "$root/build/dev/CMakeCache.txt"; then
    cmake -S "$root" -B "$root/build/dev" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DSKBUILD_PROJECT_VERSION="$version" \
        -DPython_EXECUTABLE="$venv/bin/python" \
        -Dpybind11_DIR="$("$venv/bin/python" -m pybind11 --cmakedir)" \
        -DPOCOSMTP_CPP_TOOLS="${POCOSMTP_CPP_TOOLS:-OFF}"
fi
cmake --build "$root/build/dev" "$@"
# Copy, then rename over the old file: a test run that has the old module
# loaded keeps its mapping instead of crashing on a file rewritten in place.
for built in "$root"/build/dev/_pocosmtp*.so; do
    target=$root/python/pocosmtp/$(basename "$built")
    cp "$built" "$target.tmp"
    mv -f "$target.tmp" "$target"
done
