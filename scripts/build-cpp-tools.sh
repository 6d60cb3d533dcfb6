#!/usr/bin/env bash
# Builds the C++ tools in cpp/ (the parity driver) into build/cpp and prints
# the driver's path on stdout; everything else goes to stderr. Extra
# arguments go to the first configure, e.g.
#     scripts/build-cpp-tools.sh -DPOCOSMTP_SYSTEM_POCO=ON -DCMAKE_PREFIX_PATH=/opt/poco
# Serialised with a lock: the parity tests call it from each pytest session.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/cpp
export PATH=$root/.venv/bin:$PATH
mkdir -p "$root/build"
exec 9>"$root/build/.cpp-tools.lock"
flock 9
# Conan's toolchain generator adds build/cpp to CMakeUserPresets.json in the
# source tree at every configure; put the file back as it was, so that a test
# run leaves the work tree as it found it.
presets=$root/CMakeUserPresets.json
saved=$(mktemp)
had_presets=false
if [[ -f $presets ]]; then cp -p "$presets" "$saved"; had_presets=true; fi
restore_presets() {
    if $had_presets; then cp -p "$saved" "$presets"; else rm -f "$presets"; fi
    rm -f "$saved"
}
trap restore_presets EXIT
{
    if [[ ! -f $out/build.ninja ]]; then
        cmake -S "$root/cpp" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
    fi
    cmake --build "$out" --target parity_driver
} >&2
echo "$out/parity_driver"
