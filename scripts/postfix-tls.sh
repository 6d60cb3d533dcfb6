#!/usr/bin/env bash
# A private Postfix on 127.0.0.1:PORT that takes mail only over STARTTLS, for
# the interoperability test in tests/test_tls.py (marker "postfix").
#
#   scripts/postfix-tls.sh install          install Debian's postfix, no daemon
#   scripts/postfix-tls.sh start DIR PORT   configure DIR and start the instance
#   scripts/postfix-tls.sh stop DIR         stop it and wait until it is gone
#
# start installs postfix first if it is missing. The instance lives entirely
# in DIR (configuration, queue, log, delivered mail): mail for any address
# @example.org is appended to DIR/mail/inbox (mbox). The server certificate
# is DIR/server.crt + DIR/server.key if the caller put them there (the test
# writes ones issued by its own CA), else a self-signed one made here.
# The system's own Postfix is never started: Debian's package would start
# one on port 25 at install, which policy-rc.d prevents.
set -euo pipefail

die() { echo "postfix-tls.sh: $*" >&2; exit 1; }

# Shared with scripts/bench.sh: installs the package, never a running daemon.
install_postfix() { "$(dirname "$0")/install-postfix.sh"; }

wait_listening() {
    local port=$1
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

start() {
    local dir=$1 port=$2
    install_postfix
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)

    if [[ ! -s $dir/server.crt || ! -s $dir/server.key ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
            -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
            -keyout "$dir/server.key" -out "$dir/server.crt" 2>/dev/null
    fi
    chmod 600 "$dir/server.key"

    mkdir -p "$dir/queue" "$dir/data"
    chown postfix:postfix "$dir/data"
    # The virtual delivery agent writes as this user: mail/ must be its.
    mkdir -p "$dir/mail"
    chown nobody:nogroup "$dir/mail"
    cp /usr/share/postfix/master.cf.dist "$dir/master.cf"
    : >"$dir/main.cf"

    local -a settings=(
        "compatibility_level = 3.6"
        "queue_directory = $dir/queue"
        "data_directory = $dir/data"
        "maillog_file_prefixes = $dir"
        "maillog_file = $dir/maillog"
        "inet_interfaces = 127.0.0.1"
        "inet_protocols = ipv4"
        "myhostname = mail.example.test"
        "mydestination ="
        "mynetworks = 127.0.0.0/8"
        "alias_maps ="
        "alias_database ="
        "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"
        # Mail is taken only after STARTTLS: a client that skips it gets 530.
        "smtpd_tls_security_level = encrypt"
        "smtpd_tls_cert_file = $dir/server.crt"
        "smtpd_tls_key_file = $dir/server.key"
        "smtpd_tls_loglevel = 1"
        "smtpd_tls_received_header = yes"
        "virtual_mailbox_domains = example.org"
        "virtual_mailbox_base = $dir/mail"
        "virtual_mailbox_maps = static:inbox"
        "virtual_uid_maps = static:$(id -u nobody)"
        "virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)"
        "virtual_minimum_uid = 1"
        # Nothing may leave this machine.
        "default_transport = error:outbound mail disabled in the test instance"
        "relay_transport = error:outbound mail disabled in the test instance"
    )
    postconf -c "$dir" -e "${settings[@]}"
    # Only this instance's smtpd listens, on PORT; no chroot (it would need
    # copies of /etc files inside the queue directory).
    postconf -c "$dir" -MX smtp/inet
    postconf -c "$dir" -M "127.0.0.1:$port/inet = 127.0.0.1:$port inet n - n - - smtpd"
    postconf -c "$dir" -F '*/*/chroot = n'

    # postfix reports configuration errors only to syslog unless stderr is
    # a terminal; the log file of this instance says nothing before start.
    postfix -c "$dir" check || die "postfix check failed (see: postfix -c $dir check)"
    postfix -c "$dir" start || die "postfix start failed (see $dir/maillog)"
    wait_listening "$port" || { stop "$dir"; die "smtpd did not listen on 127.0.0.1:$port"; }
}

stop() {
    local dir=$1
    [[ -f $dir/main.cf ]] || return 0
    postfix -c "$dir" stop >/dev/null 2>&1 || true
    local pidfile=$dir/queue/pid/master.pid pid
    [[ -f $pidfile ]] || return 0
    pid=$(tr -d ' \n' <"$pidfile")
    [[ -n $pid ]] || return 0
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    postfix -c "$dir" abort >/dev/null 2>&1 || true
    kill -KILL "$pid" 2>/dev/null || true
}

case ${1:-} in
    install) install_postfix ;;
    start) [[ $# == 3 ]] || die "usage: $0 start DIR PORT"; start "$2" "$3" ;;
    stop) [[ $# -ge 2 ]] || die "usage: $0 stop DIR [PORT]"; stop "$2" ;;
    *) die "usage: $0 install | start DIR PORT | stop DIR" ;;
esac
