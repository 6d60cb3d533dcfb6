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
if [[ ! -f $root/build/dev/build.ninja ]]; then
    cmake -S "$root" -B "$root/build/dev" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DPython_EXECUTABLE="$venv/bin/python" \
        -Dpybind11_DIR="$("$venv/bin/python" -m pybind11 --cmakedir)" \
        -DPOCOSMTP_CPP_TOOLS="${POCOSMTP_CPP_TOOLS:-OFF}"
fi
cmake --build "$root/build/dev" "$@"
cp "$root"/build/dev/_pocosmtp*.so "$root/python/pocosmtp/"
