#!/usr/bin/env bash
# Runs the test suite on an extension built with AddressSanitizer and UBSan.
# The build goes to build/asan and the package is assembled in build/asan/pkg,
# so python/pocosmtp/ and the developer build stay as they are. Extra
# arguments go to pytest, e.g. scripts/sanitize.sh tests/test_session.py -x
#
# Only the bindings are instrumented: Poco comes from Conan's cache as built
# for the normal build, and CPython is the one in .venv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv
build=$root/build/asan
pkg=$build/pkg
reports=$build/reports
export PATH=$venv/bin:$PATH

# Several engineers may run this at once; the folder is shared, and the lock
# is held to the end because the tests load the package assembled here.
mkdir -p "$build"
exec 9>"$root/build/.asan-build.lock"
flock 9

"$venv/bin/python" -c "import pybind11" 2>/dev/null ||
    "$venv/bin/python" -m pip install -q "pybind11>=3.0"
if [[ ! -f $build/build.ninja ]]; then
    # Release, because Conan's Poco exists only as Release and its CMake
    # targets resolve per configuration. -O1 -g keeps the reports' stacks
    # whole, with file:line for bindings/. The package's version, as pip would
    # set it: the stub check in the suite compares __version__ too.
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/pyproject.toml" | head -n 1)
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g -DNDEBUG" \
        -DSKBUILD_PROJECT_VERSION="$version" \
        -DPOCOSMTP_SANITIZE=ON \
        -DPython_EXECUTABLE="$venv/bin/python" \
        -Dpybind11_DIR="$("$venv/bin/python" -m pybind11 --cmakedir)"
fi
cmake --build "$build"

rm -rf "$pkg" "$reports"
mkdir -p "$pkg/pocosmtp" "$reports"
cp "$root"/python/pocosmtp/*.py "$root"/python/pocosmtp/*.pyi "$root/python/pocosmtp/py.typed" \
    "$pkg/pocosmtp/"
cp "$build"/_pocosmtp*.so "$pkg/pocosmtp/"

# CPython is not instrumented, so the ASan runtime must be loaded before it
# (an instrumented extension loaded later cannot bring it in).
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export LD_PRELOAD
# detect_leaks=0: CPython keeps interned objects, arenas and module state
# until exit on purpose, and LeakSanitizer would report all of it; the leak
# checks live in tests/test_resources.py instead. Reports go to files, one per
# process, because pytest captures file descriptor 2 and a report written
# there by a process that is about to die would be lost with it.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:log_path=$reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
# Tests that measure memory or time see libasan in LD_PRELOAD and skip
# themselves (tests/bounded.py under_sanitizer()).
export PYTHONPATH=$pkg

cd "$root"
where=$("$venv/bin/python" -c "import pocosmtp; print(pocosmtp.__file__)")
if [[ $where != "$pkg"/* ]]; then
    echo "sanitize: imported $where instead of the build in $pkg" >&2
    exit 1
fi

# The newcomer test builds and tests a clean clone with its own, plain build,
# so it says nothing about this one; a later -m in the arguments wins.
status=0
"$venv/bin/python" -m pytest -p no:cacheprovider -m "not newcomer" "$@" || status=$?

# Any process the tests started (child interpreters, the CLI) reports here too.
shopt -s nullglob
found=("$reports"/*)
if ((${#found[@]})); then
    echo "sanitize: ${#found[@]} sanitizer report(s) in $reports:" >&2
    for report in "${found[@]}"; do
        printf '\n==> %s\n' "$report" >&2
        head -n 40 "$report" >&2
    done
    ((status)) || status=1
fi
exit "$status"
