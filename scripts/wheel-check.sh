#!/usr/bin/env bash
# The repaired wheel as a user gets it: installed into a brand-new virtual
# environment on a minimal Debian (made with debootstrap, no compiler, no Poco,
# no OpenSSL headers), with the whole test suite run against the installed
# package, not the source tree. Run on demand (a few minutes); not part of CI.
#
#   scripts/build-wheel.sh           first: build/wheelhouse/*.whl
#   scripts/wheel-check.sh [ARGS]    ARGS go to pytest
#
# The Debian tree is kept in build/wheel-check/<suite> and reused; the venv and
# the tests (taken from the sdist in build/dist) are made afresh on every run. Needs root (debootstrap,
# chroot). The Debian suite is the host's, so its python3 matches the wheel's
# CPython tag; WHEEL_CHECK_SUITE picks another.
#
# Tests that need the build toolchain: the parity tests play every scenario
# through Poco's C++ API too, with a driver compiled from cpp/. That driver is
# built here on the host (scripts/build-cpp-tools.sh, .venv's cmake and Conan)
# and copied in as POCOSMTP_PARITY_DRIVER, so the chroot compiles nothing; if
# it cannot be built, the parity tests are deselected and this says so.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'wheel-check: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || fail "needs root (debootstrap and chroot)"
wheels=("$root"/build/wheelhouse/*.whl)
[[ -f ${wheels[0]} ]] || fail "no wheel in build/wheelhouse; run scripts/build-wheel.sh first"
((${#wheels[@]} == 1)) || fail "more than one wheel in build/wheelhouse"
wheel=${wheels[0]}

suite=${WHEEL_CHECK_SUITE:-$(. /etc/os-release && echo "$VERSION_CODENAME")}
target=$root/build/wheel-check/$suite
check=/opt/pocosmtp-check  # inside the chroot

# The Debian archive the host's apt already uses, so no mirror is named here
# (the same lookup as scripts/fetch-poco-source.sh).
debian_mirror() {
    {
        grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | cut -d' ' -f2-
        grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
            sed -E 's/\[[^]]*\]//' | awk '{print $2}'
    } | tr ' ' '\n' | grep -E '/debian/?$' | head -n1 || true
}

mounted=()
unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" || true; done
}
trap unmount_all EXIT
bind() {
    mount --bind "$1" "$2"
    mounted+=("$2")
}
in_chroot() {
    # A clean environment: nothing of the host's Python, compiler or venv.
    local pass=()
    while IFS= read -r var; do pass+=("$var"); done < <(
        env | grep -E '^(PIP_|https?_proxy=|HTTPS?_PROXY=|no_proxy=|NO_PROXY=)' |
            grep -vE '^PIP_(CERT|FIND_LINKS)=' || true
    )
    chroot "$target" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${pass[@]}" "${pip_cert_env[@]}" "$@"
}

step "minimal Debian $suite in ${target#"$root"/}"
if [[ ! -x $target/usr/bin/python3 ]]; then
    command -v debootstrap >/dev/null || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    }
    mirror=$(debian_mirror)
    [[ -n $mirror ]] || fail "no Debian archive address in the apt configuration"
    rm -rf "$target"
    mkdir -p "$target"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$suite" "$target" "$mirror" >"$root/build/wheel-check/debootstrap-$suite.log" 2>&1 ||
        fail "debootstrap failed; see build/wheel-check/debootstrap-$suite.log"
fi
cp /etc/resolv.conf "$target/etc/resolv.conf"
# Names resolve as on the host. The test servers listen on 127.0.0.1 and the
# TLS tests reach them as "localhost"; Debian's own /etc/hosts lists ::1 for
# localhost too, ahead of 127.0.0.1 for getaddrinfo, and Poco connects to the
# first address only, so with it those tests would reach nothing.
cp /etc/hosts "$target/etc/hosts"
# PyPI as the host reaches it: its pip configuration (index, certificates).
# PIP_FIND_LINKS is not passed on: it names folders of the host.
for conf in /etc/pip.conf /etc/xdg/pip; do
    if [[ -e $conf ]]; then
        mkdir -p "$target$(dirname "$conf")"
        cp -r "$conf" "$target$(dirname "$conf")/"
    fi
done
# And the certificates pip is told to trust (PIP_CERT, or `cert =` in a
# pip.conf): PyPI may be reached through a proxy only the host's bundle knows.
pip_cert=${PIP_CERT:-$(grep -hsE '^\s*cert\s*=' /etc/pip.conf /etc/xdg/pip/pip.conf \
    "$HOME/.config/pip/pip.conf" | tail -n1 | cut -d= -f2- | xargs || true)}
pip_cert_env=()
if [[ -n $pip_cert && -f $pip_cert ]]; then
    cp "$pip_cert" "$target/etc/pocosmtp-pip-cert.pem"
    pip_cert_env=(PIP_CERT=/etc/pocosmtp-pip-cert.pem)
fi
mkdir -p "$target/proc" "$target/dev" "$target/sys"
mount -t proc proc "$target/proc"
mounted+=("$target/proc")
bind /dev "$target/dev"
bind /dev/pts "$target/dev/pts"

step "what the chroot lacks"
lacking=(libssl-dev libpoco-dev g++ gcc cmake)
for pkg in "${lacking[@]}"; do
    if in_chroot dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        fail "the chroot has $pkg installed; it must not"
    fi
done
for path in /usr/include/openssl /usr/include/Poco; do
    [[ ! -e $target$path ]] || fail "the chroot has $path; it must not"
done
ls "$target"/usr/lib/x86_64-linux-gnu/libPoco* >/dev/null 2>&1 && fail "the chroot has a Poco library"
echo "not installed: ${lacking[*]}; no OpenSSL or Poco headers, no Poco library"

python_tag=$(in_chroot python3 -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
[[ $(basename "$wheel") == *-"$python_tag"-* ]] ||
    fail "the chroot's python3 is $python_tag; the wheel $(basename "$wheel") is for another CPython"
echo "python3 in the chroot: $python_tag, as the wheel"

step "a new venv with the wheel and the test extra"
rm -rf "$target$check"
mkdir -p "$target$check"
cp "$wheel" "$target$check/"
# The sdist the wheel was built from (the same snapshot of the tree): the
# tests, their pytest configuration, the docs and scripts they read, all but
# the python/ folder, so pocosmtp can only come from the venv.
sdists=("$root"/build/dist/*.tar.gz)
[[ -f ${sdists[0]} ]] || fail "no sdist in build/dist; run scripts/build-wheel.sh first"
sdist_top=$(basename "${sdists[0]}" .tar.gz)
tar -xzf "${sdists[0]}" -C "$target$check" --strip-components=1 \
    --exclude "$sdist_top/python" "$sdist_top"
# Checks of the source tree, not of the installed package: the stub and
# mypy (python/, scripts/typecheck.sh), ruff and clang-format on the
# sources, and the newcomer's clean clone (git, the whole build).
source_checks=(--deselect tests/test_types.py --deselect tests/test_style.py
    --deselect tests/test_newcomer.py)
in_chroot python3 -m venv "$check/venv"
in_chroot "$check/venv/bin/python" -m pip install -q "$check/$(basename "$wheel")[test]"
in_chroot "$check/venv/bin/python" -c \
    'import pocosmtp, sys; print("pocosmtp", pocosmtp.__version__, "from", pocosmtp.__file__)'

step "parity driver (Poco's C++ API, built on the host)"
deselect=()
driver_env=()
if driver=$(scripts/build-cpp-tools.sh 2>"$root/build/wheel-check/parity-driver.log"); then
    cp "$driver" "$target$check/parity_driver"
    driver_env=(POCOSMTP_PARITY_DRIVER="$check/parity_driver")
    echo "copied $driver"
else
    deselect=(--deselect tests/parity)
    echo "DESELECTED tests/parity: the C++ driver could not be built on the host" \
        "(needs .venv's cmake and Conan, and a compiler; see build/wheel-check/parity-driver.log)"
fi

step "the test suite against the installed wheel"
chroot "$target" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${driver_env[@]}" \
    bash -c 'cd "$1" && shift && exec venv/bin/python -m pytest -p no:cacheprovider "$@"' \
    _ "$check" "${source_checks[@]}" "${deselect[@]}" "$@"
