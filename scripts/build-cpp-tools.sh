#!/usr/bin/env bash
# Builds a C++ tool in cpp/ into build/cpp and prints its path on stdout;
# everything else goes to stderr. The tool is the parity driver unless
# --target NAME comes first (scripts/bench.sh: --target bench_send). Other
# arguments go to the first configure, e.g.
#     scripts/build-cpp-tools.sh -DPOCOSMTP_SYSTEM_POCO=ON -DCMAKE_PREFIX_PATH=/opt/poco
# Serialised with a lock: the parity tests call it from each pytest session.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/cpp
target=parity_driver
if [[ ${1:-} == --target ]]; then
    target=${2:?--target needs a name}
    shift 2
fi
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
    cmake --build "$out" --target "$target"
} >&2
echo "$out/$target"
