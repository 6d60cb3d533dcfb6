#!/usr/bin/env bash
# Puts Poco's release archive into Conan's download cache, so that the
# project's Conan recipe builds Poco without reaching Poco's own site.
#
# Conan looks a file up in the cache by its sha256 (<cache>/s/<sha256>) before
# it tries the URL in conandata.yml, so a seeded cache makes the build offline.
# Where the archive comes from, first hit wins:
#   1. the cache already holds it;
#   2. $POCO_SOURCE_ARCHIVE names a local copy of poco-1.14.2-all.tar.bz2;
#   3. Debian's source package poco 1.14.2-6, whose orig tarball is the same
#      file byte for byte, fetched with apt-get from the unstable suite.
set -euo pipefail

readonly SHA256=7738a4c880f08e89318fc53915f86be5a0e70f14eb1e7f0e1767c8781c40d794
readonly DEBIAN_VERSION=1.14.2-6
cache_dir=${POCOSMTP_DOWNLOAD_CACHE:-$HOME/.cache/pocosmtp/conan-downloads}
target=$cache_dir/s/$SHA256

say() { printf 'fetch-poco-source: %s\n' "$*" >&2; }

verified_copy() {
    local candidate=$1
    local actual
    actual=$(sha256sum "$candidate" | cut -d' ' -f1)
    if [[ $actual != "$SHA256" ]]; then
        say "$candidate has sha256 $actual, expected $SHA256; not using it"
        return 1
    fi
    mkdir -p "$cache_dir/s"
    cp "$candidate" "$target.partial"
    mv "$target.partial" "$target"
    say "seeded $target"
}

# The deb-src entry reuses the archive address the machine's apt already
# uses for Debian itself, so no mirror is named here.
debian_mirror() {
    {
        grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | cut -d' ' -f2-
        grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
            sed -E 's/\[[^]]*\]//' | awk '{print $2}'
    } | tr ' ' '\n' | grep -E '/debian/?$' | head -n1
}

from_debian() {
    command -v apt-get >/dev/null || return 1
    [[ $(id -u) == 0 ]] || { say "not root: cannot add Debian's deb-src entry"; return 1; }
    local mirror entry work
    mirror=$(debian_mirror)
    [[ -n $mirror ]] || { say "no Debian archive address in the apt configuration"; return 1; }
    entry=/etc/apt/sources.list.d/pocosmtp-unstable-src.sources
    if [[ ! -f $entry ]]; then
        printf 'Types: deb-src\nURIs: %s\nSuites: unstable\nComponents: main\nSigned-By: %s\n' \
            "$mirror" /usr/share/keyrings/debian-archive-keyring.gpg >"$entry"
        apt-get update -qq
    fi
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    # _apt cannot write into a private temporary folder; the download is
    # checked against the pinned sha256 below, so running it as root is fine.
    chmod 755 "$work"
    (cd "$work" && apt-get source -qq --download-only "poco=$DEBIAN_VERSION") >&2 || return 1
    verified_copy "$work/poco_1.14.2.orig.tar.bz2"
}

if [[ -f $target ]]; then
    exit 0
fi
if [[ -n ${POCO_SOURCE_ARCHIVE:-} ]]; then
    verified_copy "$POCO_SOURCE_ARCHIVE" && exit 0
    exit 1
fi
from_debian && exit 0

cat >&2 <<MSG
fetch-poco-source: Poco's source archive is missing.
  needed: poco-1.14.2-all.tar.bz2 (sha256 $SHA256)
  looked in: $target
  and in Debian's source package poco=$DEBIAN_VERSION (apt-get source), which failed.
Supply a local copy and run this script again:
  POCO_SOURCE_ARCHIVE=/path/to/poco-1.14.2-all.tar.bz2 $0
With network access to Poco's site, Conan downloads the archive itself.
MSG
exit 1
