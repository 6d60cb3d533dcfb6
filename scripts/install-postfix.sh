#!/usr/bin/env bash
# Installs Debian's postfix package (postfix, smtpd, smtp-sink, smtp-source)
# without ever leaving the system's own Postfix running. Shared by
# scripts/postfix-tls.sh (a private instance for the TLS interop test) and
# scripts/bench.sh (smtp-sink and smtp-source for the benchmarks).
#
#   scripts/install-postfix.sh      does nothing if postfix is installed
#
# Debian's maintainer scripts would start a Postfix on port 25 at install;
# a temporary policy-rc.d forbids that, and the system instance is stopped
# and disabled afterwards should it have started anyway.
set -euo pipefail

die() { echo "install-postfix.sh: $*" >&2; exit 1; }

[[ -x /usr/sbin/postfix && -x /usr/sbin/smtp-sink && -x /usr/sbin/smtp-source ]] && exit 0
[[ $(id -u) == 0 ]] || die "postfix is not installed and installing needs root"

# 101 = "action forbidden". Only a policy file created here is removed.
policy=/usr/sbin/policy-rc.d
ours=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    ours=1
fi
remove_policy() { if ((ours)); then rm -f "$policy"; fi; }
trap remove_policy EXIT

echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix \
        >/dev/null
}
# A stale package list is the usual reason for a failure; refresh it once.
if ! apt_install; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 || true
    apt_install || die "apt-get install postfix failed"
fi

if /usr/sbin/postfix status >/dev/null 2>&1; then /usr/sbin/postfix stop >/dev/null 2>&1 || true; fi
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl disable --now postfix >/dev/null 2>&1 || true
elif command -v update-rc.d >/dev/null 2>&1; then
    update-rc.d postfix disable >/dev/null 2>&1 || true
fi
